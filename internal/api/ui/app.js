// Meridian status page: polls /api/v1/status every second and renders it
// without reloading; sets and undoes drains with the API token when the
// node has one. Plain DOM code, no dependencies, nothing inline (the page
// is served with Content-Security-Policy: default-src 'self').
'use strict';

(function () {
  const POLL_MS = 1000;
  const TOKEN_KEY = 'meridian.token';
  const $ = (id) => document.getElementById(id);

  let status = null; // the last reply of /api/v1/status

  // el builds an element: el('td', {class: 'x', 'data-v': 1}, 'text', child).
  // Text always goes through text nodes, never HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function badge(kind, text) {
    return el('span', { class: 'badge ' + kind }, text || kind);
  }

  // swap replaces target's children with those of fresh only when they
  // differ, so that buttons stay put between polls unless something
  // changed.
  function swap(target, fresh) {
    if (target.innerHTML !== fresh.innerHTML) {
      target.replaceChildren(...fresh.childNodes);
    }
  }

  // Times: Go's zero time means "never".
  function isZero(t) {
    return !t || t.startsWith('0001-01-01');
  }

  // clock is t in UTC with its date, as the node's logs and
  // `meridian status` write it: "2026-11-22 02:22:31 UTC".
  function clock(t) {
    if (isZero(t)) return 'never';
    const iso = new Date(t).toISOString(); // always UTC
    return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + ' UTC';
  }

  // timeEl is t for people; hovering shows it in the reader's own zone.
  function timeEl(t) {
    if (isZero(t)) return el('time', {}, 'never');
    return el('time', { datetime: t, title: new Date(t).toString() }, clock(t));
  }

  // span formats milliseconds as "4s", "3m 4s", "2h 5m", "3d 4h".
  function span(ms) {
    let s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    let m = Math.floor(s / 60); s %= 60;
    if (m < 60) return m + 'm' + (s ? ' ' + s + 's' : '');
    let h = Math.floor(m / 60); m %= 60;
    if (h < 48) return h + 'h' + (m ? ' ' + m + 'm' : '');
    const d = Math.floor(h / 24); h %= 24;
    return d + 'd' + (h ? ' ' + h + 'h' : '');
  }

  // ago is how long before the node's clock t was; coarse keeps it to
  // whole minutes so that it changes rarely.
  function ago(t, coarse) {
    if (isZero(t) || !status) return '';
    const ms = Date.parse(status.now) - Date.parse(t);
    return coarse ? minutes(ms) : span(ms);
  }

  function minutes(ms) {
    const m = Math.round(ms / 60000);
    return m < 1 ? 'under a minute' : span(m * 60000);
  }

  function millis(ns) { // a Go duration in JSON is in nanoseconds
    return ns / 1e6;
  }

  function upDown(up) {
    return up ? badge('up') : badge('down');
  }

  // --- rendering ---

  function render(st) {
    $('node').textContent = 'node ' + st.node + (st.region ? ' · region ' + st.region : '');
    document.title = 'Meridian · ' + st.node;
    const changes = st.auth === 'token';
    document.body.dataset.changes = String(changes);
    $('read-only').hidden = changes;
    renderServing(st);
    swap($('regions'), renderRegions(st));
    swap($('reload'), renderReload(st.reload, st.state || []));
    swap($('records'), renderRecords(st));
    swap($('endpoints'), renderEndpoints(st));
    swap($('drains'), renderDrains(st));
    $('drain-form').hidden = !changes;
    $('auth-loopback').hidden = changes;
  }

  // renderServing shows, at the top, the records that fail open or answer
  // from a fallback pool, and the degraded answers since the node
  // started; the header turns amber or red with them.
  function renderServing(st) {
    const sv = st.serving || { failopen: [], fallback: [], decisions: {}, degraded: 0 };
    const kind = sv.failopen.length ? 'failopen' : (sv.fallback.length ? 'fallback' : 'ok');
    document.querySelector('header').dataset.serving = kind;
    const pill = $('serving-pill');
    pill.hidden = kind === 'ok';
    pill.textContent = kind === 'failopen' ? 'fail-open' : 'fallback';
    const box = $('serving');
    box.hidden = kind === 'ok';
    box.dataset.kind = kind;
    if (kind === 'ok') {
      box.replaceChildren();
      return;
    }
    const byName = new Map(st.records.map((r) => [r.name + ' ' + r.type, r]));
    const out = el('div');
    for (const name of sv.failopen) {
      const r = byName.get(name) || { values: [], rules: [] };
      const vals = r.values.filter((v) => v.served).map((v) => v.value);
      out.append(el('p', { 'data-failopen': name }, badge('down', 'fail-open'), ' ', el('strong', { class: 'mono' }, name),
        ' answers its own values ', el('span', { class: 'mono' }, vals.join(' ') || '(none: all drained)'),
        ': no pool of ' + rulesText(r, 'failopen') + ' has a serviceable value, so these are served whatever their health.'));
    }
    for (const name of sv.fallback) {
      const r = byName.get(name) || { rules: [] };
      const how = r.rules.map((ru, i) => ru.outcome === 'fallback' ? `rule ${i + 1} from pool ${ru.served_by} instead of ${ru.pool}`
        : (ru.outcome === 'nearest' ? `rule ${i + 1} from a farther pool for some clients` : null)).filter(Boolean);
      out.append(el('p', { 'data-fallback': name }, badge('warn', 'fallback'), ' ', el('strong', { class: 'mono' }, name),
        ' answers ' + how.join('; ') + '.'));
    }
    const d = sv.decisions || {};
    out.append(el('p', { id: 'degraded', class: 'small' }, `Degraded answers since the node started: ${sv.degraded}` +
      ` (fallback ${d.fallback || 0}, nearest ${d.nearest || 0}, fail-open ${d.failopen || 0})` +
      ` of ${(d.pool || 0) + (d.norule || 0) + sv.degraded}; their TTL is capped at degraded_ttl.`));
    swap(box, out);
  }

  // rulesText names the rules of r with the outcome: "rule 2", "rules 1 and 2".
  function rulesText(r, outcome) {
    const n = [];
    r.rules.forEach((ru, i) => { if (ru.outcome === outcome) n.push(i + 1); });
    if (n.length === 1) return 'rule ' + n[0];
    return 'rules ' + n.slice(0, -1).join(', ') + ' and ' + n[n.length - 1];
  }

  function renderRegions(st) {
    const byRegion = new Map();
    for (const m of st.members) {
      const r = m.region || '(no region)';
      if (!byRegion.has(r)) byRegion.set(r, []);
      byRegion.get(r).push(m);
    }
    const out = el('div');
    for (const r of [...byRegion.keys()].sort()) {
      const nodes = byRegion.get(r).sort((a, b) => a.name.localeCompare(b.name));
      const alive = nodes.filter((m) => m.state === 'alive').length;
      const list = el('ul', { class: 'nodes' });
      for (const m of nodes) {
        const kind = m.state === 'alive' ? 'up' : (m.state === 'suspect' ? 'warn' : 'down');
        const zs = m.zone_set || {};
        list.append(el('li', { 'data-member': m.name, 'data-state': m.state,
          'data-zones': zs.digest || 'unknown', 'data-drifting': String(!!zs.drifting) },
          el('div', { class: 'head' }, el('span', { class: 'name', title: m.name }, m.name),
            m.name === st.node ? el('span', { class: 'tag' }, 'this node') : null,
            badge(kind, m.state)),
          el('div', { class: 'meta' }, m.addr ? el('span', { class: 'muted small' }, m.addr) : null, memberZones(m))));
      }
      out.append(el('div', { class: 'region', 'data-region': r },
        el('h3', {}, r, el('span', { class: 'muted small' }, ` ${alive}/${nodes.length} alive`)), list));
    }
    out.append(renderZoneSet(st));
    return out;
  }

  // memberZones is the note on a member's zone set: its digest and size,
  // and whether it differs from the one most live members serve.
  function memberZones(m) {
    const zs = m.zone_set || {};
    if (!zs.digest) {
      return el('span', { class: 'zone-note muted small', title: m.meta_error || 'announces no zone set' },
        m.meta_error ? 'zones: unreadable' : 'zones: unknown');
    }
    const note = el('span', { class: 'zone-note muted small', title: 'zone set digest ' + zs.digest },
      'zones ' + zs.digest.slice(0, 8) + ' (' + zs.count + ')');
    if (zs.drifting) {
      note.append(' ', badge('down', 'drifting ' + ago(zs.since)));
      note.title += ', differing from the majority\'s since ' + clock(zs.since);
    } else if (zs.differs) {
      note.append(' ', badge('warn', 'differs ' + ago(zs.since)));
      note.title += ', differing from the majority\'s since ' + clock(zs.since);
    }
    return note;
  }

  // renderZoneSet says how this node's zone set compares with the mesh,
  // and lists its zones with their serials.
  function renderZoneSet(st) {
    const zs = st.zone_set;
    if (!zs) return null;
    const me = st.members.find((m) => m.name === st.node) || {};
    const mine = me.zone_set || {};
    let verdict;
    if (!zs.digest) verdict = 'no zones loaded yet';
    else if (mine.drifting) verdict = el('span', {}, badge('down', 'drifting'), ' differs from the majority\'s ' + zs.majority + ' since ', timeEl(mine.since));
    else if (mine.differs) verdict = el('span', {}, badge('warn', 'differs'), ' from the majority\'s ' + zs.majority + ' since ', timeEl(mine.since));
    else if (!zs.majority) verdict = 'no zone set is served by a majority of the live members';
    else verdict = 'the same as the majority of the live members';
    const list = el('ul', { class: 'zones small' }, (zs.zones || []).map((z) =>
      el('li', { 'data-zone': z.origin }, el('code', {}, z.origin), ' serial ' + z.serial + ' · ', el('code', {}, z.hash))));
    return el('div', { id: 'zone-set', class: 'zone-set', 'data-drifting': zs.drifting },
      el('p', { class: 'small' }, 'This node\'s zone set ', el('code', {}, zs.digest || '–'), ` (${zs.count} zone${zs.count === 1 ? '' : 's'}): `, verdict),
      zs.drifting ? el('p', { class: 'hint' }, `${zs.drifting} live member${zs.drifting === 1 ? '' : 's'} flagged as drifting (differing for longer than ${span(millis(zs.drift_grace))}).`) : null,
      el('details', {}, el('summary', { class: 'small' }, 'Zones and serials'), list));
  }

  function renderReload(rl, state) {
    const out = el('div', { id: 'reload-state', 'data-ok': String(rl.ok) });
    out.append(el('p', {}, rl.ok ? badge('up', 'ok') : badge('down', rl.problems.length + ' problem' + (rl.problems.length === 1 ? '' : 's')),
      ' at ', timeEl(rl.at), isZero(rl.at) ? '' : el('span', { class: 'muted' }, ` (${ago(rl.at, true)} ago)`)));
    if (!isZero(rl.at) && rl.zones === 0) {
      out.append(el('p', { id: 'no-zones' }, badge('down', 'no zone served'),
        ' Every query is answered REFUSED.'));
    }
    if (rl.directory && rl.directory !== 'ok') {
      out.append(el('p', { id: 'zones-dir', 'data-dir': rl.directory }, badge('down', 'zones directory ' + rl.directory),
        ` The ${rl.zones} zone${rl.zones === 1 ? '' : 's'} loaded keep serving; it is retried by itself.`));
    }
    if (rl.problems.length) {
      out.append(el('ul', { class: 'problems' }, rl.problems.map((p) => el('li', {}, p))));
      out.append(el('p', { class: 'hint' }, 'Zones with problems keep serving their previous version.'));
    }
    return el('div', {}, out, renderState(state));
  }

  // renderState shows the state files that cannot be written, or could not
  // be read at start; nothing while all is well.
  function renderState(state) {
    const bad = state.filter((f) => !f.ok || f.load_error);
    if (!bad.length) return null;
    const out = el('div', { id: 'state-files' });
    out.append(el('p', {}, badge('down', bad.length + ' state file' + (bad.length === 1 ? '' : 's') + ' failing')));
    out.append(el('ul', { class: 'problems' }, bad.map((f) => el('li', { 'data-state': f.name },
      f.name + ' (' + f.path + '): ' + (f.ok ? 'at start: ' + f.load_error : f.error +
        (isZero(f.since) ? '' : ` — failing for ${ago(f.since, true)}`))))));
    out.append(el('p', { class: 'hint' }, 'The state applies in memory (drains also on the mesh) but would not survive a restart.'));
    return out;
  }

  function ruleText(r) {
    const what = [];
    if (r.subnets && r.subnets.length) what.push('subnets ' + r.subnets.join(' '));
    if (r.geos && r.geos.length) what.push('geos ' + r.geos.join(' '));
    return (what.length ? what.join('; ') : 'everyone') + ' → ' + r.pool;
  }

  // ruleNow is where the rule's clients are answered from now, when that
  // is not the rule's own pool.
  function ruleNow(r) {
    switch (r.outcome) {
      case 'fallback': return el('span', {}, ' ', badge('warn', 'now from ' + r.served_by));
      case 'nearest': return el('span', {}, ' ', badge('warn', 'some from a farther pool'));
      case 'failopen': return el('span', {}, ' ', badge('down', 'now fail-open'));
    }
    return null;
  }

  function renderRecords(st) {
    const out = el('div');
    if (!st.records.length) {
      out.append(el('p', { class: 'muted' }, 'No dynamic records are served.'));
      return out;
    }
    const eps = new Map(st.endpoints.map((e) => [e.id, e]));
    const valueDrains = new Set(st.drains.map((d) => d.target));
    for (const rec of st.records) {
      const box = el('div', { class: 'record', 'data-record': rec.name });
      box.append(el('h3', {}, rec.name, ' ', el('span', { class: 'type' }, rec.type),
        el('span', { class: 'muted small' }, ' zone ' + rec.zone)));
      if (rec.rules.length) {
        box.append(el('ol', { class: 'rules' }, rec.rules.map((r) => el('li', { 'data-outcome': r.outcome }, ruleText(r), ruleNow(r)))));
      }
      const table = el('table', { class: 'values' });
      table.append(el('thead', {}, el('tr', {},
        el('th', {}, 'pool'), el('th', {}, 'value'), el('th', { class: 'num' }, 'weight'),
        el('th', {}, 'verdict'), el('th', {}, 'served'), el('th', {}, 'votes'), el('th', {}, ''))));
      for (const p of rec.pools) {
        const tb = el('tbody', { 'data-pool': p.id });
        p.values.forEach((v, i) => {
          const row = valueRow(rec, v, eps, valueDrains);
          if (i === 0) {
            row.prepend(el('td', { class: 'pool', rowspan: p.values.length },
              el('strong', {}, p.id),
              p.fallback ? el('div', { class: 'muted small' }, 'falls back to ' + p.fallback) : null,
              p.drained ? el('div', {}, badge('drained')) : null,
              p.serviceable === 0 ? el('div', {}, badge('down', 'nothing serviceable'),
                el('div', { class: 'muted small' }, p.fallback ? 'its clients go to ' + p.fallback : 'its clients get the fail-open values')) : null,
              el('div', {}, poolButton(p, valueDrains))));
          }
          tb.append(row);
        });
        table.append(tb);
      }
      if (rec.values.length) {
        table.append(failOpenRows(rec, valueDrains));
      }
      box.append(table);
      out.append(box);
    }
    return out;
  }

  function verdictBadge(v) {
    if (v.drained) return badge('drained');
    if (v.status === 'up') return badge('up', 'up (forced)');
    if (v.status === 'down') return badge('down', 'down (forced)');
    return badge(v.verdict);
  }

  function valueRow(rec, v, eps, valueDrains) {
    const ep = eps.get(v.endpoint);
    const votes = el('td', { class: 'votes' });
    if (!v.endpoint) {
      votes.append(el('span', { class: 'muted' }, 'not health-checked'));
    } else if (!ep || !ep.observations.length) {
      votes.append(el('span', { class: 'muted' }, 'no votes yet'));
    } else {
      for (const o of ep.observations) {
        votes.append(el('span', { class: 'vote ' + (o.up ? 'up' : 'down'), title: `${o.observer} in ${o.region}: ${o.up ? 'up' : 'down'} since ${o.since}` },
          `${o.observer} ${o.up ? 'up' : 'down'} since `, timeEl(o.since)));
      }
    }
    return el('tr', {
      'data-value': v.value, 'data-verdict': v.verdict, 'data-drained': String(v.drained),
      'data-serviceable': String(v.serviceable), 'data-served': String(v.served), class: v.serviceable ? '' : 'out',
    },
    el('td', { class: 'value' }, v.value, v.status !== 'obey' ? el('span', { class: 'muted small' }, ' status ' + v.status) : null),
    el('td', { class: 'num' }, v.weight),
    el('td', {}, verdictBadge(v), v.drained && v.verdict !== 'unknown' ? el('span', { class: 'muted small' }, ' health ' + v.verdict) : null),
    el('td', {}, servedBadge(v)),
    votes,
    el('td', { class: 'act' }, valueButton(v, valueDrains)));
  }

  // failOpenRows lists the record's own values: the answer when no pool
  // has a serviceable value, served whatever their health.
  function failOpenRows(rec, valueDrains) {
    const tb = el('tbody', { class: 'failopen', 'data-failopen': String(rec.outcome === 'failopen') });
    rec.values.forEach((v, i) => {
      const row = el('tr', { 'data-own-value': v.value, 'data-drained': String(v.drained), 'data-served': String(v.served),
        class: v.drained ? 'out' : '' },
      el('td', { class: 'value' }, v.value),
      el('td', { class: 'num' }, '–'),
      el('td', {}, v.drained ? badge('drained') : el('span', { class: 'muted small' }, 'health not asked')),
      el('td', {}, servedBadge(v)),
      el('td', { class: 'votes' }, el('span', { class: 'muted' }, 'served when every pool is out')),
      el('td', { class: 'act' }, valueButton(v, valueDrains)));
      if (i === 0) {
        row.prepend(el('td', { class: 'pool', rowspan: rec.values.length }, el('strong', {}, 'fail-open'),
          el('div', { class: 'muted small' }, 'the record\'s own values'),
          rec.outcome === 'failopen' ? el('div', {}, badge('down', 'in force')) : null));
      }
      tb.append(row);
    });
    return tb;
  }

  // servedBadge says whether answers carry v now.
  function servedBadge(v) {
    if (v.served) return badge('up', 'served');
    if (v.serviceable) return badge('unknown', 'standby');
    return badge('down', 'not served');
  }

  // valueButton drains or undrains v; none when this page cannot change
  // anything (no API token on the node).
  function valueButton(v, valueDrains) {
    if (!status || status.auth !== 'token') return null;
    const drainTarget = v.value.replace(/\.$/, '');
    if (valueDrains.has(v.value) || valueDrains.has(drainTarget)) {
      return el('button', { type: 'button', class: 'small', 'data-undrain': valueDrains.has(v.value) ? v.value : drainTarget }, 'undrain');
    }
    return el('button', { type: 'button', class: 'small ghost', 'data-fill': drainTarget }, 'drain…');
  }

  function poolButton(p, valueDrains) {
    if (!status || status.auth !== 'token') return null;
    const t = 'pool:' + p.id;
    if (valueDrains.has(t)) return el('button', { type: 'button', class: 'small', 'data-undrain': t }, 'undrain pool');
    return el('button', { type: 'button', class: 'small ghost', 'data-fill': t }, 'drain pool…');
  }

  function renderEndpoints(st) {
    const out = el('div');
    if (!st.endpoints.length) {
      out.append(el('p', { class: 'muted' }, 'Nothing is health-checked.'));
      return out;
    }
    const table = el('table');
    table.append(el('thead', {}, el('tr', {}, el('th', {}, 'endpoint'), el('th', {}, 'verdict'),
      el('th', {}, 'since'), el('th', {}, 'observers'), el('th', {}, 'this node\'s last probe'))));
    const tb = el('tbody');
    for (const e of st.endpoints) {
      const obs = el('td', { class: 'votes' });
      for (const o of e.observations) {
        obs.append(el('div', { class: 'vote ' + (o.up ? 'up' : 'down') },
          el('strong', {}, o.observer), el('span', { class: 'muted' }, ` (${o.region}) `),
          o.up ? 'up' : 'down', ' since ', timeEl(o.since),
          el('span', { class: 'muted small' }, ` · seen ${span(millis(o.age))} ago`)));
      }
      if (!e.observations.length) obs.append(el('span', { class: 'muted' }, 'no votes yet'));
      const lp = e.last_probe;
      tb.append(el('tr', { 'data-endpoint': e.id, 'data-name': e.name, 'data-up': String(e.up) },
        el('td', { class: 'mono' }, e.name),
        el('td', {}, upDown(e.up)),
        el('td', {}, timeEl(e.since), isZero(e.since) ? '' : el('div', { class: 'muted small' }, 'for ' + ago(e.since))),
        obs,
        el('td', {}, lp ? [upDown(lp.ok), ' ', lp.reason, el('div', { class: 'muted small' },
          `${Math.round(millis(lp.latency))} ms · ${ago(lp.at)} ago`)] : el('span', { class: 'muted' }, 'not probed yet'))));
    }
    table.append(tb);
    out.append(table);
    return out;
  }

  function renderDrains(st) {
    const out = el('div');
    if (!st.drains.length) {
      out.append(el('p', { class: 'muted', id: 'no-drains' }, 'No drains: every value obeys its health checks.'));
      return out;
    }
    const table = el('table');
    table.append(el('thead', {}, el('tr', {}, el('th', {}, 'target'), el('th', {}, 'reason'),
      el('th', {}, 'expires'), el('th', {}, 'set by'), el('th', {}, ''))));
    const tb = el('tbody');
    for (const d of st.drains) {
      const until = isZero(d.until)
        ? el('span', {}, 'when undone')
        : el('span', {}, timeEl(d.until), el('span', { class: 'muted small' }, ` (in ${minutes(Date.parse(d.until) - Date.parse(st.now))})`));
      tb.append(el('tr', { 'data-drain': d.target },
        el('td', { class: 'mono' }, d.target),
        el('td', {}, d.reason || el('span', { class: 'muted' }, 'none given')),
        el('td', {}, until),
        el('td', {}, d.by, el('div', { class: 'muted small' }, 'at ', timeEl(d.set_at))),
        el('td', { class: 'act' }, st.auth === 'token' ? el('button', { type: 'button', class: 'small', 'data-undrain': d.target }, 'undo') : null)));
    }
    table.append(tb);
    out.append(table);
    return out;
  }

  // --- polling ---

  function setLive(state, text) {
    const l = $('live');
    l.dataset.state = state;
    l.textContent = text;
  }

  async function poll() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    try {
      const resp = await fetch('/api/v1/status', { cache: 'no-store', signal: ctl.signal });
      if (!resp.ok) throw new Error(await errorText(resp));
      status = await resp.json();
      render(status);
      setLive('ok', 'live · updated ' + clock(status.now));
    } catch (err) {
      const why = err.name === 'AbortError' ? 'no reply within 5s' : err.message;
      setLive('error', 'cannot reach the node (' + why + '); retrying' + (status ? ' · showing data from ' + clock(status.now) : ''));
    } finally {
      clearTimeout(timer);
    }
  }

  async function loop() {
    await poll();
    setTimeout(loop, POLL_MS);
  }

  // --- changes ---

  async function errorText(resp) {
    try {
      const j = await resp.json();
      if (j && j.error) return j.error + ' (HTTP ' + resp.status + ')';
    } catch (_) { /* not JSON */ }
    return 'HTTP ' + resp.status;
  }

  function say(kind, text) {
    const m = $('message');
    m.hidden = false;
    m.dataset.kind = kind;
    m.textContent = text;
  }

  function token() {
    return $('token').value.trim();
  }

  async function call(method, path, body) {
    if (status && status.auth !== 'token') {
      say('error', 'This node has no API token (api.token_file), so it takes no changes from browsers.');
      return false;
    }
    if (!token()) {
      say('error', 'Enter the API token first.');
      $('token').focus();
      return false;
    }
    const opts = { method, headers: { Authorization: 'Bearer ' + token() } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    try {
      const resp = await fetch(path, opts);
      if (!resp.ok) {
        say('error', method + ' ' + path + ' failed: ' + await errorText(resp));
        return false;
      }
      return resp.status === 204 ? true : await resp.json();
    } catch (err) {
      say('error', method + ' ' + path + ' failed: ' + err.message);
      return false;
    } finally {
      poll();
    }
  }

  async function drain(ev) {
    ev.preventDefault();
    const target = $('drain-target').value.trim();
    if (!target) {
      say('error', 'Enter a target: an address such as 198.51.100.1, or pool:ID.');
      return;
    }
    const body = { target };
    const dur = $('drain-for').value.trim();
    if (dur) body.for = dur;
    const reason = $('drain-reason').value.trim();
    if (reason) body.reason = reason;
    const d = await call('POST', '/api/v1/drains', body);
    if (d) {
      say('ok', 'Drained ' + d.target + (isZero(d.until) ? ' until undone' : ' until ' + clock(d.until)) + '.');
      $('drain-target').value = '';
      $('drain-reason').value = '';
      $('drain-for').value = '';
    }
  }

  async function undrain(target) {
    if (await call('DELETE', '/api/v1/drains/' + encodeURIComponent(target))) {
      say('ok', 'Undrained ' + target + '.');
    }
  }

  function onClick(ev) {
    const b = ev.target.closest('button[data-undrain], button[data-fill]');
    if (!b) return;
    if (b.dataset.undrain) {
      undrain(b.dataset.undrain);
      return;
    }
    if (status && status.auth !== 'token') {
      say('error', 'Drains from this page need an API token: set api.token_file on the node.');
      return;
    }
    $('drain-target').value = b.dataset.fill;
    $('drain-form').scrollIntoView({ behavior: 'smooth', block: 'center' });
    $('drain-reason').focus();
  }

  function start() {
    const t = $('token');
    t.value = sessionStorage.getItem(TOKEN_KEY) || '';
    t.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, t.value.trim()));
    $('drain-form').addEventListener('submit', drain);
    document.addEventListener('click', onClick);
    loop();
  }

  start();
})();
