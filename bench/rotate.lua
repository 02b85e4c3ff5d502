-- wrk script: GET PATH with the access tokens of TOKENS_FILE in turn.
-- Args: PATH TOKENS_FILE
local tokens = {}
local path
local n = 0

function init(args)
  path = args[1]
  for line in io.lines(args[2]) do
    if #line > 0 then table.insert(tokens, line) end
  end
end

function request()
  n = n % #tokens + 1
  local sep = path:find("?", 1, true) and "&" or "?"
  return wrk.format("GET", path .. sep .. "access_token=" .. tokens[n])
end
