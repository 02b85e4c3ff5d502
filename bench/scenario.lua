-- wrk script for the load scenarios: each request takes the next line of
-- REQUESTS_FILE and the next token of TOKENS_FILE, in turn.
-- A line is "METHOD PATH [FORM-BODY]", e.g.
--   GET /v1/media/4207...
--   POST /v1/media/4207.../likes
--   POST /v1/media/4207.../comments text=nice
-- Args: REQUESTS_FILE TOKENS_FILE [PER_TOKEN]: PER_TOKEN requests (default 1)
-- go with each token before the next, so that a write and the line after it
-- that undoes it (like, unlike) are made by the same user.
local reqs, tokens = {}, {}
local i, t = 0, 0
local per = 1

function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+) (%S+) ?(.*)$")
    if method then table.insert(reqs, {method, path, body ~= "" and body or nil}) end
  end
  for line in io.lines(args[2]) do
    if #line > 0 then table.insert(tokens, line) end
  end
  per = tonumber(args[3] or "1")
end

function request()
  i = i % #reqs + 1
  t = t + 1
  local r = reqs[i]
  local token = tokens[math.floor((t - 1) / per) % #tokens + 1]
  local headers = {["Authorization"] = "Bearer " .. token}
  if r[3] then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(r[1], r[2], headers, r[3])
end
