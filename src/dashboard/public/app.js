// femtoguard operator console. Plain browser script, no dependencies: everything comes from
// the REST API with the operator's token, and is put in the page as text (never as HTML).
'use strict';

(() => {
  const TOKEN_KEY = 'femtoguard.token';
  const STATUSES = ['active', 'provisioned', 'suspended', 'lost', 'decommissioned'];
  const RANK = { low: 0, medium: 1, high: 2, critical: 3 };
  const FLEET_REFRESH_MS = 30_000;
  // Alerts the page keeps (the most recent by lastSeen): the stream adds one per new alert, so
  // without a bound a busy day would grow the page without end. A list reload reads 200.
  const MAX_ALERTS = 500;
  // A value longer than this (a rogue unit picks its serial, a payment its txId) is shown
  // shortened in the middle, the whole of it in the title: one 256-character serial must not
  // widen the table and push every row's buttons off the screen.
  const MAX_SHOWN = 64;
  // Characters that change how the text around them is shown, or show as nothing: C0 and C1
  // controls and DEL, format characters (the bidi embeddings, overrides and isolates
  // U+202A-202E and U+2066-2069, the marks U+200E, U+200F and U+061C, zero-width characters,
  // tags), line and paragraph separators, lone surrogates, and whatever else Unicode says shows as
  // nothing (Hangul fillers, variation selectors). The same set as the CLI's (src/cli/output.ts).
  const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/gu;
  // For a value, the backslash as well, so that data spelling out an escape cannot pass for one.
  const HIDDEN_OR_BACKSLASH = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}\\]/gu;

  const $ = (id) => document.getElementById(id);
  // rows: alert id -> its <tr> in the table, so a stream event touches one row, not all.
  // signIns: counts sign-ins and sign-outs, so an older sign-in still awaiting the API stops there.
  const state = { token: null, me: null, alerts: new Map(), rows: new Map(), stream: null, timers: [], signIns: 0 };

  /** An element with text content (and optional class): the only way data gets into the page. */
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  /**
   * A character of HIDDEN as a visible escape (`\x1b`, `\u202e`, `\u{e0041}`, `\\`): a serial
   * with a right-to-left override must show what it is, not a file name it spells backwards.
   */
  function escapeOf(c) {
    if (c === '\\') return '\\\\';
    const n = c.codePointAt(0);
    const hex = n.toString(16);
    return n < 0x100 ? `\\x${hex.padStart(2, '0')}` : n <= 0xffff ? `\\u${hex.padStart(4, '0')}` : `\\u{${hex}}`;
  }
  const visible = (v) => String(v).replace(HIDDEN_OR_BACKSLASH, escapeOf);

  /**
   * One value from the API as the page shows it: escaped, in its own <bdi> (so right-to-left
   * text in it cannot reorder what is around it, nor what is around it the value), and a long
   * one shortened in the middle with all of it in the title. `prose` (an alert's summary, a
   * message) is shown whole, its backslashes as they are: the server's summaries carry escapes
   * of their own, which doubling would garble.
   */
  function value(v, prose) {
    const e = el('bdi');
    if (v === undefined || v === null) return e;
    const text = prose ? String(v).replace(HIDDEN, escapeOf) : visible(v);
    const chars = Array.from(text);
    if (prose || chars.length <= MAX_SHOWN) {
      e.textContent = text;
    } else {
      e.textContent = `${chars.slice(0, MAX_SHOWN - 16).join('')}…${chars.slice(-15).join('')}`;
      e.title = text;
    }
    return e;
  }

  /** A table cell holding values from the API (strings between them are the page's own). */
  function cell(cls, ...parts) {
    const td = el('td', null, cls);
    td.append(...parts);
    return td;
  }

  /**
   * A value as one segment of a URL path. encodeURIComponent leaves dots alone, and a browser
   * resolves a segment that is `.` or `..` before the request leaves, written `%2E`/`%2E%2E` as
   * well (WHATWG URL: single-dot and double-dot path segments): the request would go to another
   * path. Such a value cannot be addressed from a browser at all, so it is refused here.
   */
  function segment(v) {
    const s = encodeURIComponent(v);
    if (s === '.' || s === '..') {
      const err = new Error(`"${s}" cannot be sent as a URL path segment from a browser (it would resolve to another path)`);
      err.dotSegment = true;
      throw err;
    }
    return s;
  }

  function showError(message) {
    const b = $('banner');
    b.replaceChildren(value(message, true));
    b.hidden = false;
  }
  function clearError() {
    $('banner').hidden = true;
  }

  /** Calls the API with the token; throws an Error carrying the problem's detail and the status. */
  async function api(path, opts = {}) {
    const headers = { authorization: `Bearer ${state.token}` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method: opts.method ?? 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err = new Error(body && body.detail ? `${body.detail} (${res.status})` : `the server answered ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  const may = (permission) => Boolean(state.me && state.me.permissions.includes(permission));

  // ---- sign in / out ------------------------------------------------------------------------

  async function signIn(token) {
    const gen = ++state.signIns;
    state.token = token;
    let me;
    try {
      me = await api('/v1/me');
    } catch (e) {
      if (gen !== state.signIns) return;
      state.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      showError(e.status === 401 ? 'That token is not valid (unknown, revoked or mistyped).' : `Sign-in failed: ${e.message}`);
      return;
    }
    if (gen !== state.signIns) return;
    state.me = me;
    sessionStorage.setItem(TOKEN_KEY, token);
    clearError();
    $('who').replaceChildren(value(state.me.role), ' · ', value(state.me.tokenId));
    $('signin').hidden = true;
    $('console').hidden = false;
    $('signout').hidden = false;
    $('fleet').hidden = !may('devices:read');
    $('alerts').hidden = !may('alerts:read');
    $('holds').hidden = !may('payments:hold');
    if (!may('alerts:read')) {
      // GET /v1/me accepts any valid token, but ingest and payment tokens cannot read alerts:
      // say so rather than fail on every request (and retry the stream for ever).
      showError(`This token's role (${state.me.role}) cannot read alerts: the console is for viewer, operator and admin tokens.`);
    }
    await Promise.all([loadFleet(), may('alerts:read') ? loadAlerts() : null, may('payments:hold') ? loadHolds() : null]);
    // Signed out during those loads (a 401), or signed in again with another token meanwhile:
    // this sign-in has nothing more to start.
    if (gen !== state.signIns || state.token !== token) return;
    if (may('devices:read')) state.timers.push(setInterval(() => void loadFleet(), FLEET_REFRESH_MS));
    if (may('alerts:read')) void follow();
  }

  function signOut(message) {
    state.signIns++;
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    state.stream?.abort();
    state.stream = null;
    for (const t of state.timers.splice(0)) clearInterval(t);
    state.alerts.clear();
    state.rows.clear();
    $('alert-table').tBodies[0].replaceChildren();
    $('hold-table').tBodies[0].replaceChildren();
    $('fleet-counts').replaceChildren();
    $('who').textContent = '';
    $('console').hidden = true;
    $('signout').hidden = true;
    $('signin').hidden = false;
    setLive(false);
    if (message) showError(message);
  }

  /** A 401 in the middle of work: the token was revoked or the server forgot it. */
  function failed(e, what) {
    if (e.status === 401) signOut('Your token is no longer valid: sign in again.');
    else showError(`${what}: ${e.message}`);
  }

  // ---- fleet --------------------------------------------------------------------------------

  async function loadFleet() {
    if (!may('devices:read')) return;
    try {
      const totals = await Promise.all(STATUSES.map((s) => api(`/v1/devices?status=${s}&limit=1`).then((r) => r.total)));
      const dl = $('fleet-counts');
      dl.replaceChildren(
        ...STATUSES.map((s, i) => {
          const d = el('div');
          d.dataset.status = s;
          d.append(el('dt', s), el('dd', visible(totals[i])));
          return d;
        }),
      );
    } catch (e) {
      failed(e, 'Fleet counts failed');
    }
  }

  // ---- alerts -------------------------------------------------------------------------------

  function filters() {
    return { status: $('f-status').value, minSeverity: $('f-severity').value };
  }

  function shown(a) {
    const f = filters();
    if (f.status && a.status !== f.status) return false;
    if (f.minSeverity && RANK[a.severity] < RANK[f.minSeverity]) return false;
    return true;
  }

  async function loadAlerts() {
    const f = filters();
    const q = new URLSearchParams({ limit: '200' });
    if (f.status) q.set('status', f.status);
    if (f.minSeverity) q.set('minSeverity', f.minSeverity);
    try {
      const r = await api(`/v1/alerts?${q}`);
      state.alerts.clear();
      for (const a of r.items) state.alerts.set(a.id, a);
      evictOldest();
      render();
    } catch (e) {
      failed(e, 'Loading alerts failed');
    }
  }

  // A payment's alert is about the payment (its cell follows: "tx on cell").
  const subjectOf = (a) => a.txId ?? a.serial ?? a.cellId ?? a.msisdn ?? a.imsi ?? '';

  /** Table order: most severe first, then most recently seen. Negative when x comes before y. */
  function order(x, y) {
    return RANK[y.severity] - RANK[x.severity] || (y.lastSeen < x.lastSeen ? -1 : y.lastSeen > x.lastSeen ? 1 : 0);
  }

  const alertBody = () => $('alert-table').tBodies[0];
  const showCount = () => {
    $('alert-count').textContent = `${alertBody().rows.length} shown`;
  };

  /** The whole table again: after a list reload or a filter change. */
  function render() {
    const rows = [...state.alerts.values()].filter(shown).sort(order);
    state.rows.clear();
    alertBody().replaceChildren(
      ...rows.map((a) => {
        const tr = row(a, false);
        state.rows.set(a.id, tr);
        return tr;
      }),
    );
    showCount();
  }

  /** One alert changed: its row alone is taken out and, if the filters show it, put back in its place. */
  function placeRow(a, fresh) {
    state.rows.get(a.id)?.remove();
    state.rows.delete(a.id);
    if (shown(a)) {
      const tr = row(a, fresh);
      let next = null;
      for (const r of alertBody().rows) {
        const b = state.alerts.get(r.dataset.id);
        if (b && order(a, b) < 0) {
          next = r;
          break;
        }
      }
      alertBody().insertBefore(tr, next);
      state.rows.set(a.id, tr);
    }
    showCount();
  }

  /** Keeps the page to MAX_ALERTS: the least recently seen go (a list reload brings back what matters). */
  function evictOldest() {
    while (state.alerts.size > MAX_ALERTS) {
      let oldest = null;
      for (const a of state.alerts.values()) if (oldest === null || a.lastSeen < oldest.lastSeen) oldest = a;
      state.alerts.delete(oldest.id);
      state.rows.get(oldest.id)?.remove();
      state.rows.delete(oldest.id);
    }
  }

  function row(a, fresh) {
    const tr = el('tr', null, fresh ? 'fresh' : '');
    tr.dataset.id = a.id;
    tr.dataset.rule = a.rule;
    const subject = cell('subject', value(subjectOf(a)));
    if (a.txId && a.cellId) subject.append(' on ', value(a.cellId));
    tr.append(
      cell(`sev ${a.severity}`, value(a.severity)),
      cell('rule', value(a.rule)),
      subject,
      cell('summary', value(a.summary, true)),
      cell('count', value(a.count)),
      cell('seen', value(a.lastSeen)),
      cell('status', value(a.status)),
    );
    const actions = el('td', null, 'actions');
    if (may('alerts:write')) {
      if (a.status !== 'acknowledged' && a.status !== 'resolved') actions.append(button('Acknowledge', () => setStatus(a.id, 'acknowledge')));
      if (a.status !== 'resolved') actions.append(button('Resolve', () => setStatus(a.id, 'resolve')));
      else actions.append(button('Reopen', () => setStatus(a.id, 'reopen')));
    }
    tr.append(actions);
    return tr;
  }

  function button(label, onClick) {
    const b = el('button', label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  async function setStatus(id, verb) {
    try {
      const a = await api(`/v1/alerts/${segment(id)}/${verb}`, { method: 'POST', body: {} });
      state.alerts.set(a.id, a);
      clearError();
      placeRow(a, false);
    } catch (e) {
      failed(e, `Could not ${verb} the alert`);
    }
  }

  /** An alert from the live stream: new, or a repeat of one (count, last seen, maybe severity). */
  function onStreamAlert(a, isNew) {
    const had = state.alerts.get(a.id);
    // The stream carries the alert, not the operator's status: a repeat keeps the status shown;
    // a new one is open, and so is one the server sends as new again (a finding reopened a
    // resolved alert: hidden under an "open" filter, the incident that came back would be missed).
    const next = { ...a, status: had && !isNew ? had.status : 'open' };
    state.alerts.set(a.id, next);
    evictOldest();
    // Evicted at once when it is older than all the page keeps: then there is no row to place.
    if (state.alerts.has(a.id)) placeRow(next, isNew || !had);
    else showCount();
  }

  // ---- live stream (server-sent events, read with fetch so the token goes in a header) -------

  function setLive(on) {
    const p = $('live');
    p.textContent = on ? 'live' : 'offline';
    p.className = `pill ${on ? 'on' : 'off'}`;
  }

  async function follow() {
    state.stream?.abort();
    const ctrl = new AbortController();
    state.stream = ctrl;
    let delay = 1000;
    let first = true;
    while (!ctrl.signal.aborted) {
      try {
        const res = await fetch('/v1/alerts/stream', { headers: { authorization: `Bearer ${state.token}` }, signal: ctrl.signal });
        if (res.status === 401) return signOut('Your token is no longer valid: sign in again.');
        // The role may not read alerts (changed since sign-in, or the server says so): retrying cannot help.
        if (res.status === 403) {
          setLive(false);
          return showError('This token may not read the live alert stream (needs alerts:read): it is not followed.');
        }
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        setLive(true);
        delay = 1000;
        // What happened while the stream was down: read the list again.
        if (!first) await loadAlerts();
        first = false;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            handleEvent(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        if (ctrl.signal.aborted) return;
      }
      setLive(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }

  function handleEvent(block) {
    let type = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length === 0 || (type !== 'alert' && type !== 'alert-update')) return;
    try {
      onStreamAlert(JSON.parse(data.join('\n')), type === 'alert');
    } catch {
      // a malformed event is skipped; the next reload of the list corrects the table
    }
  }

  // ---- payment holds --------------------------------------------------------------------------

  async function loadHolds() {
    try {
      const r = await api('/v1/payment-holds?status=held&limit=200');
      $('hold-table').tBodies[0].replaceChildren(...r.items.map(holdRow));
    } catch (e) {
      failed(e, 'Loading held payments failed');
    }
  }

  function holdRow(h) {
    const tr = el('tr');
    tr.dataset.tx = h.txId;
    const reason = el('input');
    reason.placeholder = 'reason (required)';
    reason.maxLength = 500;
    const release = el('td', null, 'release');
    release.append(
      reason,
      button('Release', async () => {
        if (!reason.value.trim()) return showError('Releasing a payment needs a reason.');
        try {
          // The txId goes in the body: any txId, "." and ".." too, which no browser sends in a path.
          await api('/v1/payment-holds/release', { method: 'POST', body: { txId: h.txId, reason: reason.value.trim() } });
          clearError();
          await loadHolds();
        } catch (e) {
          failed(e, 'Could not release the payment');
        }
      }),
    );
    tr.append(cell('tx', value(h.txId)), cell('msisdn', value(h.msisdn)), cell('alert', value(h.alertId)), cell('held', value(h.heldAt)), release);
    return tr;
  }

  // ---- wiring -------------------------------------------------------------------------------

  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    $('token').value = '';
    if (t) void signIn(t);
  });
  $('signout').addEventListener('click', () => signOut());
  $('f-status').addEventListener('change', () => void loadAlerts());
  $('f-severity').addEventListener('change', () => void loadAlerts());

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) void signIn(saved);
})();
