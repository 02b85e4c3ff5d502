-- wrk script: POST /v1/media/upload with the bench photos in turn, as
-- multipart/form-data. Args: TOKEN PHOTO_DIR (photos listed by `ls`).
local boundary = "picogrambenchboundary7d1a"
local bodies = {}
local n = 0

function init(args)
  local token, dir = args[1], args[2]
  local p = io.popen('ls "' .. dir .. '"')
  for name in p:lines() do
    local f = io.open(dir .. "/" .. name, "rb")
    local data = f:read("*a")
    f:close()
    local body = "--" .. boundary .. "\r\n" ..
      'Content-Disposition: form-data; name="caption"\r\n\r\nbench #picogram\r\n' ..
      "--" .. boundary .. "\r\n" ..
      'Content-Disposition: form-data; name="photo"; filename="' .. name .. '"\r\n' ..
      "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
    table.insert(bodies, body)
  end
  p:close()
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
end

function request()
  n = n % #bodies + 1
  return wrk.format("POST", "/v1/media/upload", nil, bodies[n])
end
