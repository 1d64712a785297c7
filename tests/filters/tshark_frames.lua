-- The frames tshark selects for each display filter of a file, in one pass over the capture:
-- tshark -q -r CAPTURE -X lua_script:tshark_frames.lua -X lua_script1:FILTERS
-- FILTERS holds one filter a line; each selected frame prints as "LINE<TAB>FRAME" (LINE from 1).
local filters_path = ...
local listeners = {}
local index = 0
for expression in io.lines(filters_path) do
    index = index + 1
    local line = index
    local listener = Listener.new("frame", expression)
    function listener.packet(pinfo)
        print(line .. "\t" .. pinfo.number)
    end
    listeners[line] = listener
end
