/**
 * One connection of the revocation listener (revocation-listener.ts): its state, its input
 * buffer, and how far its queued answers have got into the kernel.
 */
import type { Socket } from 'node:net';
import type { RequestHead } from './http1.js';

/** The kind of asynchronous answer pending on a connection (what to send if it never comes). */
export const P_NONE = 0;
export const P_OCSP = 1;
export const P_CRL = 2;

/** Bytes held for one connection while an answer is pending: one full request and change. */
export const MAX_BUFFERED = 20 * 1024;

export class Conn {
  /** bytes received and not yet consumed */
  buf: Buffer | null = null;
  /** spare-capacity storage behind `buf` when it grew from several reads */
  store: Buffer | null = null;
  scanned = 0;
  /** a parsed head whose body has not fully arrived */
  head: RequestHead | null = null;
  continued = false;
  /** an asynchronous answer (cache miss, CRL) is pending: later requests wait (pipelining order) */
  waiting = false;
  /** the send buffer is full (the client is not reading): later requests wait for 'drain' */
  blocked = false;
  /** the client half-closed: answer what is complete, then close */
  peerEnded = false;
  /** a close answer was sent: further bytes are read and dropped (RFC 9112 §9.6) */
  closing = false;
  /** answers sent so far on this connection */
  served = 0;
  /** closing, and all of the answer is with the kernel: `deadline` is the linger deadline */
  lingering = false;
  /** write progress when `deadline` was last set (see `progressOf`) */
  progress = 0;
  /** the pending asynchronous answer (`waiting`): what to send if it never comes */
  pendingKind = P_NONE;
  pendingHead = false;
  constructor(
    readonly s: Socket,
    public deadline: number,
  ) {}
}

/**
 * Appends a read to the unconsumed bytes with amortised doubling: a client dribbling a head
 * byte by byte must cost linear, not quadratic, copying.
 */
export function append(c: Conn, chunk: Buffer): void {
  const buf = c.buf as Buffer;
  const need = buf.length + chunk.length;
  const st = c.store;
  if (st !== null && buf.buffer === st.buffer && buf.byteOffset === st.byteOffset && need <= st.length) {
    chunk.copy(st, buf.length);
    c.buf = st.subarray(0, need);
    return;
  }
  const grown = Buffer.allocUnsafe(Math.max(2 * need, 2048));
  buf.copy(grown, 0);
  chunk.copy(grown, buf.length);
  c.store = grown;
  c.buf = grown.subarray(0, need);
}


/**
 * How far the answers queued on `s` have got into the kernel. `bytesWritten` counts bytes
 * still buffered in Node too, and one large write (a CRL) stays whole in `writableLength`
 * until the kernel has taken all of it; libuv's `writeQueueSize` is what shrinks as the
 * client reads. Node's own socket.setTimeout() uses the same field to keep a socket with a
 * write in progress alive (lib/net.js, Socket.prototype._onTimeout). Our own later writes
 * raise `bytesWritten` and `writableLength` alike, so only the client reading changes it.
 */
export function progressOf(s: Socket): number {
  const q = (s as Socket & { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;
  return s.bytesWritten - s.writableLength - q;
}
