/**
 * Follows the server's alert stream (`GET /v1/alerts/stream`, server-sent events, docs/detection.md)
 * the way a console would: `alert` for a new alert, `alert-update` for a repeat.
 */
export interface StreamedAlert {
  id: string;
  ts: string;
  rule: string;
  severity: string;
  serial?: string;
  cellId?: string;
  txId?: string;
  summary: string;
  count: number;
}

/** Resolves once the stream is open; `stop()` closes it. A dropped stream ends quietly (the view just stops updating). */
export async function followAlerts(target: string, token: string, onAlert: (a: StreamedAlert, isNew: boolean) => void): Promise<{ stop(): void }> {
  const ac = new AbortController();
  const res = await fetch(new URL('/v1/alerts/stream', target), { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: ac.signal });
  if (res.status !== 200 || !res.body) throw new Error(`alert stream: ${target} answered ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        // Events end with a blank line (HTML Living Standard, server-sent events §9.2.6).
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if ((event === 'alert' || event === 'alert-update') && data) onAlert(JSON.parse(data) as StreamedAlert, event === 'alert');
        }
      }
    } catch {
      /* aborted or dropped */
    }
  })();
  return { stop: () => ac.abort() };
}
