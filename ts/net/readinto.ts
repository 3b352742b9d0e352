// Reads into one reused buffer: Node's `onread` socket option (a caller-owned buffer that
// libuv reads into, and a callback with the byte count, instead of a new Buffer pushed
// through the stream machinery per read) for sockets a net.Server accepted.
//
// `onread` is a public option of `new net.Socket()`, but net.Server constructs accepted
// sockets itself and does not pass it on. The Socket constructor stores the option under
// three private symbols that its read path (stream_base_commons' onStreamRead) and
// pause()/resume() consult; they are found once on a throw-away socket built with the public
// option, and set on each accepted socket before it starts reading (the server listens with
// `pauseOnConnect`), which is exactly the state the constructor would have produced. When
// they cannot be found (a Node whose internals differ), `readInto` returns false and the
// caller uses 'data' events.
import * as net from 'node:net';

interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
  /** Holds the buffer generator (null: the fixed buffer is used). */
  generator: symbol;
}

let symbols: OnreadSymbols | null | undefined;

/** Finds the private symbols under which net.Socket keeps its `onread` option. */
function findSymbols(): OnreadSymbols | null {
  const buffer = Buffer.alloc(1);
  const callback = (): void => {};
  // `onread` is accepted by the constructor (and documented) but missing from @types/node 20's
  // SocketConstructorOpts.
  const opts: net.SocketConstructorOpts & { onread: { buffer: Buffer; callback: () => void } } = { onread: { buffer, callback } };
  const probe = new net.Socket(opts);
  try {
    let b: symbol | null = null;
    let c: symbol | null = null;
    let g: symbol | null = null;
    const target = probe as unknown as Record<symbol, unknown>;
    for (const s of Object.getOwnPropertySymbols(probe)) {
      const v = target[s];
      if (v === buffer) b = s;
      else if (v === callback) c = s;
      else if (s.description === 'kBufferGen') g = s;
    }
    return b !== null && c !== null && g !== null ? { buffer: b, callback: c, generator: g } : null;
  } finally {
    probe.destroy();
  }
}

interface UserBufferHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
  reading?: boolean;
}

/**
 * Makes the accepted, not yet reading `socket` read into `buffer` and call `onBytes` with
 * the byte count of each read (the bytes are `buffer[0, n)`, valid only during the call),
 * then starts reading. `socket.pause()`/`resume()` keep working (backpressure). Returns
 * false, having changed nothing, when this Node does not allow it.
 */
export function readInto(socket: net.Socket, buffer: Buffer, onBytes: (n: number) => void): boolean {
  if (symbols === undefined) symbols = findSymbols();
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (symbols === null || !handle || typeof handle.useUserBuffer !== 'function' || handle.reading === true) return false;
  const target = socket as unknown as Record<symbol, unknown>;
  target[symbols.buffer] = buffer;
  target[symbols.callback] = (n: number): void => onBytes(n);
  target[symbols.generator] = null;
  handle.useUserBuffer(buffer);
  socket.resume();
  return true;
}
