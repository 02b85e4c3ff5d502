-- wrk script for bench/soak.sh: bench/scenario.lua's requests, each
-- connection waiting WAIT_MS (the 4th argument, fractional) before each
-- request, so that the load holds at a set rate below the maximum. wrk's
-- waits are whole milliseconds: a fraction f of the waits are one longer,
-- so that they average WAIT_MS.
dofile("bench/scenario.lua")
local scenario_init = init
local whole, frac = 0, 0

function init(args)
  scenario_init(args)
  local wait = tonumber(args[4] or "0")
  whole = math.floor(wait)
  frac = wait - whole
end

function delay()
  if math.random() < frac then return whole + 1 end
  return whole
end
