/**
 * A minimal, strict HTTP/1.1 request-head parser (RFC 9112) for the revocation listener.
 * It accepts what OCSP and CRL clients send (RFC 6960 Appendix A, RFC 5019 §5): GET, HEAD
 * and POST with origin-form (or absolute-form) targets, Content-Length bodies, Host,
 * Connection and Expect. Everything else is refused with the status RFC 9112 / RFC 9110
 * name for it, never guessed around: request smuggling lives in lenient parsers.
 * Pure functions, no I/O; the listener owns sockets and timeouts.
 */

export const HTTP1_LIMITS = {
  /** request line + header fields + the empty line (RFC 9112 §2.3 lets servers pick) */
  maxHeadBytes: 8 * 1024,
  maxHeaderFields: 64,
  /** RFC 6960 Appendix A.1 POST bodies are a few hundred bytes; anything bigger is not OCSP */
  maxBodyBytes: 8 * 1024,
} as const;

export interface RequestHead {
  method: string;
  /** the path and query of the target, always starting with "/" */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 */
  minor: 0 | 1;
  contentLength: number;
  /** the client wants the connection closed after this answer (RFC 9112 §9.3) */
  close: boolean;
  /** an HTTP/1.0 client asked to keep the connection (it must hear "Connection: keep-alive") */
  keepAlive10: boolean;
  /** `Expect: 100-continue` (RFC 9110 §10.1.1) */
  expectContinue: boolean;
  /** offset just past the empty line that ends the head */
  headEnd: number;
}

/** A request that cannot be served: answered with `status` and the connection closed. */
export interface HeadError {
  status: 400 | 411 | 413 | 414 | 417 | 431 | 505;
  message: string;
}

export type HeadResult = { kind: 'incomplete'; scanned: number } | { kind: 'error'; error: HeadError } | { kind: 'ok'; head: RequestHead };

const CRLF2 = Buffer.from('\r\n\r\n');
/** RFC 9110 §5.6.2 token */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value: visible ASCII, SP, HTAB and obs-text; no CR, LF, NUL or other CTLs (RFC 9110 §5.5) */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** request-target characters: visible ASCII only (RFC 9112 §3.2, RFC 3986) */
const TARGET = /^[\x21-\x7e]+$/;
const DIGITS = /^[0-9]{1,9}$/;
const BARE_CR_LF = /\r(?!\n)|(?<!\r)\n/;

const err = (status: HeadError['status'], message: string): HeadResult => ({ kind: 'error', error: { status, message } });

/**
 * Parses the request head starting at `start` in `buf`. `scanFrom` is where the previous
 * call for the same head stopped looking for its end (so a client sending one byte at a
 * time costs linear, not quadratic, work). Incomplete heads longer than the limit are
 * refused: 414 while the request line has not ended, 431 after.
 */
export function parseRequestHead(buf: Buffer, at: number, scanFrom = at): HeadResult {
  // RFC 9112 §2.2: empty lines before a request line are ignored (some clients send a CRLF after a POST body).
  let start = at;
  while (buf[start] === 0x0d && buf[start + 1] === 0x0a) {
    start += 2;
    if (start - at >= HTTP1_LIMITS.maxHeadBytes) return err(400, 'too many empty lines before the request line');
  }
  if (start === buf.length || (start === buf.length - 1 && buf[start] === 0x0d)) return { kind: 'incomplete', scanned: at };
  const from = Math.max(start, scanFrom - 3);
  const end = buf.indexOf(CRLF2, from);
  if (end < 0) {
    const have = buf.length - start;
    if (have >= HTTP1_LIMITS.maxHeadBytes) {
      const lineEnd = buf.indexOf(0x0a, start);
      return lineEnd < 0 || lineEnd - start >= HTTP1_LIMITS.maxHeadBytes
        ? err(414, `request line longer than ${HTTP1_LIMITS.maxHeadBytes} bytes`)
        : err(431, `request header fields longer than ${HTTP1_LIMITS.maxHeadBytes} bytes`);
    }
    // A bare LF ends nothing here (CRLF is required), but garbage should not wait for a timeout.
    if (have > 0 && !startsLikeRequest(buf, start)) return err(400, 'not an HTTP request');
    return { kind: 'incomplete', scanned: buf.length };
  }
  if (end - start + 4 > HTTP1_LIMITS.maxHeadBytes) return err(431, `request header fields longer than ${HTTP1_LIMITS.maxHeadBytes} bytes`);
  const text = buf.toString('latin1', start, end);
  const lines = text.split('\r\n');
  const requestLine = lines[0] as string;
  // RFC 9112 §2.2: a bare CR or LF inside the head is an error, never a line break.
  if (BARE_CR_LF.test(text)) return err(400, 'bare CR or LF in the request head');

  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces.
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1) return err(400, 'malformed request line');
  const method = requestLine.slice(0, sp1);
  let target = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  if (!TOKEN.test(method)) return err(400, 'malformed method in the request line');
  if (!TARGET.test(target)) return err(400, 'malformed request target');
  let minor: 0 | 1;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) return err(505, `${version} is not supported: use HTTP/1.1`);
  else return err(400, 'malformed HTTP version in the request line');
  if (target.startsWith('http://') || target.startsWith('https://')) {
    // absolute-form (RFC 9112 §3.2.2): servers must accept it; the authority is not ours to check.
    const slash = target.indexOf('/', target.indexOf('//') + 2);
    target = slash < 0 ? '/' : target.slice(slash);
  } else if (target.charCodeAt(0) !== 0x2f) {
    return err(400, 'request target must be a path (origin-form)');
  }

  let contentLength = -1;
  let connection = '';
  let host = false;
  let expect = '';
  let transferEncoding = false;
  if (lines.length - 1 > HTTP1_LIMITS.maxHeaderFields) return err(431, `more than ${HTTP1_LIMITS.maxHeaderFields} header fields`);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const c = line.indexOf(':');
    // No whitespace before the colon (RFC 9112 §5.1) and no obs-fold (§5.2): both 400.
    if (c <= 0) return err(400, line.length > 0 && (line[0] === ' ' || line[0] === '\t') ? 'obsolete line folding in header fields' : 'malformed header field');
    const name = line.slice(0, c);
    if (!TOKEN.test(name)) return err(400, `malformed header field name "${name.slice(0, 40)}"`);
    const value = line.slice(c + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return err(400, `control characters in header field ${name}`);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (host) return err(400, 'more than one Host header field');
          host = true;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') expect = value.toLowerCase();
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection += `,${value.toLowerCase()}`;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          // RFC 9110 §8.6: exactly digits; repeated differing values are a framing attack.
          if (!DIGITS.test(value)) return err(400, 'Content-Length is not a number');
          const n = Number(value);
          if (contentLength >= 0 && contentLength !== n) return err(400, 'conflicting Content-Length header fields');
          contentLength = n;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') transferEncoding = true;
        break;
      default:
        break;
    }
  }
  // RFC 9112 §3.2: a 1.1 request without Host is answered 400.
  if (minor === 1 && !host) return err(400, 'HTTP/1.1 request without a Host header field');
  // Only Content-Length framing is supported: an OCSP request is small and its size known.
  if (transferEncoding) return err(411, 'Transfer-Encoding is not accepted here: send the body with a Content-Length');
  if (method === 'POST' && contentLength < 0) return err(411, 'POST needs a Content-Length header field');
  if (contentLength > HTTP1_LIMITS.maxBodyBytes) return err(413, `request body larger than ${HTTP1_LIMITS.maxBodyBytes} bytes`);
  if (expect !== '' && expect !== '100-continue') return err(417, 'only "Expect: 100-continue" is supported');
  const tokens = connection === '' ? [] : connection.split(',').map((t) => t.trim());
  const close = tokens.includes('close') || (minor === 0 && !tokens.includes('keep-alive'));
  return {
    kind: 'ok',
    head: {
      method,
      target,
      minor,
      contentLength: Math.max(contentLength, 0),
      close,
      keepAlive10: minor === 0 && !close,
      expectContinue: expect === '100-continue' && minor === 1,
      headEnd: end + 4,
    },
  };
}

/** The first bytes of a request are a method token: uppercase letters then a space. */
function startsLikeRequest(buf: Buffer, start: number): boolean {
  const n = Math.min(buf.length, start + 16);
  for (let i = start; i < n; i++) {
    const c = buf[i] as number;
    if (c === 0x20) return i > start;
    if (c < 0x41 || c > 0x5a) return false;
  }
  return n - start < 16;
}

const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** How the connection goes on after an answer. */
export type ConnMode = 'keep' | 'close' | 'keep10';

/** RFC 9110 §5.6.7 IMF-fixdate of the current second, rebuilt at most once a second. */
let dateSecond = -1;
let dateLine = '';
export function dateHeader(nowMs: number): string {
  const s = Math.floor(nowMs / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateLine = `Date: ${new Date(s * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * One complete response message as one buffer: status line, headers, body. Written with a
 * single write (or `end`) so a small answer costs one send.
 */
export function buildResponse(status: number, headers: readonly (readonly [string, string | number])[], body: Buffer, mode: ConnMode, nowMs: number, headOnly = false): Buffer {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  head += `Content-Length: ${body.length}\r\n${dateHeader(nowMs)}`;
  if (mode === 'close') head += 'Connection: close\r\n';
  else if (mode === 'keep10') head += 'Connection: keep-alive\r\n';
  head += '\r\n';
  const h = Buffer.from(head, 'latin1');
  return headOnly || body.length === 0 ? h : Buffer.concat([h, body], h.length + body.length);
}

/** A short text/plain error answer; `headOnly` for HEAD: the head alone (RFC 9110 §9.3.2). */
export function errorResponse(status: number, message: string, mode: ConnMode, nowMs: number, extra: readonly (readonly [string, string])[] = [], headOnly = false): Buffer {
  return buildResponse(status, [['Content-Type', 'text/plain; charset=utf-8'], ...extra], Buffer.from(`${message}\n`), mode, nowMs, headOnly);
}

export const CONTINUE_100 = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
