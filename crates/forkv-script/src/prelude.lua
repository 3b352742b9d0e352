-- forkv's scripting prelude, run once per VM with the real globals table, before the
-- globals are locked. It builds what Valkey builds in C: the readonly proxies that make
-- the globals and the library tables unmodifiable, the error handler that turns any
-- error into {err=, source=, line=}, Valkey's pcall (which unwraps error tables), and
-- server.error_reply/status_reply and the wrappers of the Rust API functions.
-- Receives: the real globals table, the server API table, the table through which the
-- Rust side installs the per-run functions (`fn` runs a command, `log`), and the raw Rust
-- API functions, which return (error message or nil, result).
local G, api, current, raw = ...
local rawget, rawset, setmetatable, getmetatable = rawget, rawset, setmetatable, getmetatable
local error, type, tostring, select, unpack, xpcall = error, type, tostring, select, unpack, xpcall
local raw_pcall, getinfo = pcall, debug.getinfo
local sub, find, gsub = string.sub, string.find, string.gsub

-- Proxies handed to scripts; writing through them (or setting their metatable) fails.
local protected = setmetatable({}, {__mode = 'k'})
local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end
-- proxy -> the table it shows, so that next/pairs/ipairs iterate what a script sees.
local shown = setmetatable({}, {__mode = 'k'})
-- proxy -> its metatable, so that FUNCTION LOAD can point the globals elsewhere.
local metas = setmetatable({}, {__mode = 'k'})
local function readonly(t)
  local meta = {__index = t, __newindex = readonly_error}
  local meta_view = setmetatable({}, {__index = meta, __newindex = readonly_error, __metatable = false})
  meta.__metatable = meta_view
  local proxy = setmetatable({}, meta)
  protected[proxy] = true
  protected[meta_view] = true
  shown[proxy] = t
  shown[meta_view] = meta
  metas[proxy] = meta
  return proxy
end

-- What a readonly proxy shows from now on (FUNCTION LOAD runs the library's code with
-- the globals pointing at the library API only, then points them back).
local function set_index(proxy, t)
  metas[proxy].__index = t
  shown[proxy] = t
end

-- A table whose missing fields are an error, as the globals are (Valkey's
-- luaSetErrorMetatable): the library API of FUNCTION LOAD.
local function guard(t)
  return setmetatable(t, {__index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end})
end

local raw_next, raw_ipairs, raw_loadstring = next, ipairs, loadstring
G.next = function(t, k)
  return raw_next(shown[t] or t, k)
end
local proxied_next = G.next
G.pairs = function(t)
  return proxied_next, t, nil
end
G.ipairs = function(t)
  return raw_ipairs(shown[t] or t)
end
-- Bytecode is refused (Valkey: a binary chunk does not load).
G.loadstring = function(s, ...)
  if type(s) == 'string' and sub(s, 1, 1) == '\27' then
    return nil, 'binary chunks are not allowed'
  end
  return raw_loadstring(s, ...)
end

-- Valkey raises these from C (lua_setmetatable, lua_rawset): no position in the message.
G.setmetatable = function(t, m)
  if protected[t] then
    error('Attempt to modify a readonly table', 0)
  end
  return setmetatable(t, m)
end
G.rawset = function(t, k, v)
  if protected[t] then
    error('Attempt to modify a readonly table', 0)
  end
  return rawset(t, k, v)
end

-- luaPushErrorBuff: "-CODE msg" keeps its code, "msg" gets ERR.
local function error_table(s)
  local code, msg
  if sub(s, 1, 1) == '-' then
    local sp = find(s, ' ', 1, true)
    if sp then
      code, msg = sub(s, 2, sp - 1), sub(s, sp + 1)
    else
      code, msg = 'ERR', sub(s, 2)
    end
  else
    code, msg = 'ERR', s
  end
  msg = (gsub(gsub(msg, '^[\r\n]+', ''), '[\r\n]+$', ''))
  return {err = code .. ' ' .. msg}
end

api.error_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  if sub(s, 1, 1) ~= '-' then
    s = '-' .. s
  end
  return error_table(s)
end
api.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  return {ok = s}
end

-- Rust API functions report errors as a message; raise it as Valkey's error table.
local function raising(f)
  return function(...)
    local e, v = f(...)
    if e then
      error(error_table(e))
    end
    return v
  end
end
-- server.sha1hex/setresp/set_repl/log are raising Rust functions installed after this
-- prelude (see `raising_api` in lib.rs): a Lua wrapper here would be a tail call in
-- `return server.setresp(4)` and lose the script's line in the error.
-- server.register_function, in the API FUNCTION LOAD shows (Rust checks that a load runs).
local register_function = raising(raw.register_function)

-- server.call raises its error table through Rust as an opaque error; whoever catches
-- it first takes the parked table back.
-- Errors raised by other Rust functions (cjson, cmsgpack...) become their message.
local errmsg = raw.errmsg
local function unwrap(e)
  if type(e) == 'userdata' then
    local p = rawget(current, 'pending')
    if p ~= nil then
      rawset(current, 'pending', nil)
      return p
    end
    return errmsg(e)
  end
  return e
end

local raw_xpcall = xpcall
G.xpcall = function(f, h)
  return raw_xpcall(f, function(e) return h(unwrap(e)) end)
end

-- Valkey's pcall: an error table caught by pcall is returned as its message.
local function pack(...)
  return select('#', ...), {...}
end
G.pcall = function(...)
  local n, r = pack(raw_pcall(...))
  if not r[1] then
    local e = unwrap(r[2])
    if type(e) == 'table' then
      local m = e.err
      if type(m) == 'string' or type(m) == 'number' then
        e = m
      end
    end
    return false, e
  end
  return unpack(r, 1, n)
end

-- The error handler: {err=, source=, line=} naming the first frame of the user's code.
local function handler(err)
  err = unwrap(err)
  local level, info = 2, nil
  repeat
    info = getinfo(level, 'nSl')
    level = level + 1
  until info == nil or (info.what ~= 'C' and info.source ~= '=forkv')
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then
    rawset(err, 'source', info.source)
    rawset(err, 'line', info.currentline)
  end
  return err
end

-- Runs a script body (EVAL: no arguments) or a function (FCALL: keys, args).
local function run(f, keys, args)
  if keys == nil then
    return xpcall(f, handler)
  end
  return xpcall(function() return f(keys, args) end, handler)
end

-- Runs a library's code for FUNCTION LOAD (no error handler, as Valkey's lua_pcall):
-- true, or false and the error's message with its code ("ERR ...").
local function load_run(f)
  local ok, e = raw_pcall(f)
  if ok then
    return true
  end
  e = unwrap(e)
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then
      return false, tostring(m)
    end
    return false, 'ERR unknown error'
  end
  return false, 'ERR ' .. tostring(e)
end

-- Reading a missing global is an error, as in Valkey, with the position of the code that
-- read it ("user_script:1: Script attempted...").
setmetatable(G, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end})

return run, readonly, error_table, set_index, guard, load_run, register_function
