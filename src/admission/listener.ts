import { createServer, type Server, type Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';

/** TLS record content type 22: every TLS connection opens with a handshake record (RFC 8446 §5.1). */
const TLS_HANDSHAKE = 0x16;
const FIRST_BYTE_TIMEOUT_MS = 10_000;
/** Open connections per listener: Node closes any connection beyond this at once (fail closed on floods). */
const MAX_CONNECTIONS = 10_000;

const PLAINTEXT_REFUSAL = ((): Buffer => {
  const body = JSON.stringify({ decision: 'deny', reason: 'tls-required' });
  return Buffer.from(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, 'latin1');
})();

export interface TlsFront {
  close(): Promise<void>;
}

/**
 * Listens on `host:port` and hands TLS connections to `tls` (which does not listen itself).
 * Anything that does not open with a TLS handshake record (plain HTTP to the HTTPS port, a
 * scanner's garbage) gets a plain-text 400 that says TLS is required, instead of a silent
 * reset, and is reported through `onRefused`. Garbage after a TLS record header is the TLS
 * layer's to refuse (its `tlsClientError`).
 */
export async function listenTlsFront(tls: TlsServer, host: string, port: number, onRefused: (sourceIp: string | undefined, firstByte: number) => void): Promise<TlsFront> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (chunk[0] === TLS_HANDSHAKE) {
        socket.unshift(chunk);
        tls.emit('connection', socket);
        process.nextTick(() => socket.resume());
        return;
      }
      onRefused(socket.remoteAddress, chunk[0] ?? -1);
      socket.end(PLAINTEXT_REFUSAL);
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
