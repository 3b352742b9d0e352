#!/usr/bin/env python3
"""Captures COMMAND INFO and COMMAND DOCS of every command from a running server as
RESP3 (types kept: maps, sets, arrays), printed as JSON keyed by command name.
Usage: scripts/command-meta.py <port> [info|docs|list]   (default: all three)
Used to capture test/fixtures/valkey-8.0.1-commands.json from valkey-server 8.0.1 and to
diff forkv against it (scripts/command-meta.py 46600 > a.json; ... ; diff)."""
import json, socket, sys

def read_reply(f):
    line = f.readline()
    if not line:
        raise EOFError
    t, rest = line[:1], line[1:-2].decode()
    if t in (b'+', b'(', b','):
        return rest
    if t == b'-':
        return {'error': rest}
    if t == b':':
        return int(rest)
    if t == b'_':
        return None
    if t == b'#':
        return rest == 't'
    if t in (b'$', b'=', b'!'):
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2].decode(errors='replace')
        return data
    if t in (b'*', b'~', b'>'):
        n = int(rest)
        if n < 0:
            return None
        items = [read_reply(f) for _ in range(n)]
        return {'set': items} if t == b'~' else items
    if t == b'%':
        n = int(rest)
        return {'map': [[read_reply(f), read_reply(f)] for _ in range(n)]}
    if t == b'|':
        n = int(rest)
        for _ in range(n):
            read_reply(f); read_reply(f)
        return read_reply(f)
    raise ValueError(f'unknown type {line!r}')

def call(sock, f, *args):
    out = f'*{len(args)}\r\n' + ''.join(f'${len(a.encode())}\r\n{a}\r\n' for a in args)
    sock.sendall(out.encode())
    return read_reply(f)

def main():
    port = int(sys.argv[1])
    what = sys.argv[2:] or ['list', 'info', 'docs']
    sock = socket.create_connection(('127.0.0.1', port))
    f = sock.makefile('rb')
    call(sock, f, 'HELLO', '3')
    result = {}
    names = sorted(call(sock, f, 'COMMAND', 'LIST'))
    if 'list' in what:
        result['list'] = names
        result['count'] = call(sock, f, 'COMMAND', 'COUNT')
    tops = [n for n in names if '|' not in n]
    if 'info' in what:
        result['info'] = {n: call(sock, f, 'COMMAND', 'INFO', n)[0] for n in tops}
    if 'docs' in what:
        result['docs'] = {n: call(sock, f, 'COMMAND', 'DOCS', n) for n in tops}
    # One line per command, so that a change shows as a one-line diff.
    print('{')
    parts = []
    for section in sorted(result):
        v = result[section]
        if isinstance(v, dict):
            rows = ',\n'.join(f'  {json.dumps(k)}: {json.dumps(v[k], separators=(",", ":"))}' for k in sorted(v))
            parts.append(f' {json.dumps(section)}: {{\n{rows}\n }}')
        else:
            parts.append(f' {json.dumps(section)}: {json.dumps(v, separators=(",", ":"))}')
    print(',\n'.join(parts))
    print('}')

main()
