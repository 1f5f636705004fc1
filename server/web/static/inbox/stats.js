/*
 * Playbook inbox: the funnel screen (issue 16). No dependencies, no build
 * step; loaded after inbox.js, whose helpers it takes from window.PBInbox.
 *
 *   #/funnel   each playbook version's funnel over its cards, in the
 *              playbook's order: conversations that reached each card, were
 *              asked its question, answered or dropped, the median time to
 *              answer, handoffs and outcomes; filtered by playbook and
 *              first day; the counters as CSV; above them each A/B
 *              experiment's variants compared (rate and 95% interval).
 *
 * Admins and marketers see it (GET /api/stats asks the access policy); a
 * marketer sees nothing else: no conversation, no CRM record. Text from
 * the server is inserted as text.
 */
(function () {
  'use strict';
  var P = window.PBInbox;
  if (!P) return;
  var D = document, el = P.el, clear = P.clear, str = P.str;
  function $(id) { return D.getElementById(id); }
  var svg = P.svg;
  function maySee(me) { return !!me && (me.role === 'admin' || me.role === 'marketer'); }

  // The nav link, shown to admins and marketers once the inbox knows who
  // signed in.
  function renderNav(me) {
    var ul = $('stats-nav'), title = $('stats-title');
    if (!ul) return;
    var show = maySee(me);
    ul.hidden = !show;
    if (title) title.hidden = !show;
    if (!show || ul.firstChild) return;
    var li = el('li');
    var a = el('a', 'folder');
    a.href = '#/funnel';
    a.id = 'stats-funnel';
    a.setAttribute('data-short', 'Funnel');
    a.setAttribute('aria-label', 'Funnel');
    a.appendChild(svg(['M4 5h16l-6 7v6l-4 2v-8z']));
    a.appendChild(el('span', 'folder-name', 'Funnel'));
    li.appendChild(a);
    ul.appendChild(li);
  }
  window.addEventListener('pbinbox:me', function (ev) {
    var me = ev.detail;
    renderNav(me);
    var app = $('app');
    if (app) app.classList.toggle('role-marketer', !!me && me.role === 'marketer');
    // A marketer has no conversation to see: the funnel is their inbox.
    // The address is replaced, not pushed: no hashchange, so the screen is
    // drawn once, by the route the inbox takes once it has loaded (a
    // hashchange here drew it at once and again after the load, and the
    // second drawing wiped the first), and Back does not lead to a folder
    // a marketer cannot use.
    if (me && me.role === 'marketer' && !/^#\/funnel(\/|$)/.test(location.hash)) history.replaceState(null, '', '#/funnel');
  });

  var state = { playbook: '', since: '' };
  var token = 0;

  function pct(n, of) { return of > 0 ? Math.round(n * 100 / of) + '%' : '–'; }
  function num(n) { return Number(n || 0).toLocaleString(); }
  function median(ms) {
    if (!ms) return '';
    if (ms < 0) return 'over an hour';
    if (ms < 60000) return '≤ ' + (ms / 1000).toLocaleString() + ' s';
    return '≤ ' + (ms / 60000).toLocaleString() + ' min';
  }
  function dayText(d) {
    var t = Date.parse((d || '') + 'T00:00:00Z');
    return isNaN(t) ? str(d) : new Date(t).toLocaleDateString([], { dateStyle: 'medium', timeZone: 'UTC' });
  }
  function query(csv) {
    var q = [];
    if (state.playbook) q.push('playbook=' + encodeURIComponent(state.playbook));
    if (state.since) q.push('since=' + encodeURIComponent(state.since));
    if (csv) q.push('format=csv');
    return '/api/stats' + (q.length ? '?' + q.join('&') : '');
  }

  function showFunnel() {
    var me = P.me();
    var frame = P.screenFrame('Funnel', 'How far conversations get through each playbook version, card by card. Counted as they happen, kept after the chats expire; days are UTC, by the day a conversation started.');
    var head = frame.head, body = frame.body;
    var a = $('stats-funnel');
    if (a) a.setAttribute('aria-current', 'page');
    if (!maySee(me)) {
      P.screenError(body, 'Only admins and marketers see the funnel.');
      return;
    }
    var form = el('form', 'crm-filters');
    form.setAttribute('role', 'search');
    form.setAttribute('aria-label', 'Filter the funnel');
    function field(name, label, input) {
      var l = el('label', 'field field-inline');
      l.appendChild(el('span', '', label));
      input.name = name;
      input.id = 'funnel-' + name;
      l.appendChild(input);
      form.appendChild(l);
      return input;
    }
    var pb = field('playbook', 'Playbook', el('select'));
    var all = el('option', '', 'All playbooks');
    all.value = '';
    pb.appendChild(all);
    var since = field('since', 'Started on or after', el('input'));
    since.type = 'date';
    since.value = state.since;
    var go = el('button', 'btn btn-ghost', 'Show');
    go.type = 'submit';
    form.appendChild(go);
    var csv = el('a', 'btn btn-ghost funnel-csv', 'Download CSV');
    csv.id = 'funnel-csv';
    csv.setAttribute('download', 'playbook-funnel.csv');
    form.appendChild(csv);
    head.appendChild(form);
    var out = el('div', 'funnel-results');
    out.setAttribute('aria-live', 'polite');
    body.appendChild(out);
    var playbooks = {};
    function load() {
      state.playbook = pb.value;
      state.since = since.value;
      csv.href = query(true);
      clear(out);
      var spin = el('div', 'boot-inline');
      spin.setAttribute('aria-busy', 'true');
      spin.appendChild(el('span', 'spinner'));
      out.appendChild(spin);
      var my = ++token;
      P.api('GET', query(false)).then(function (st) {
        if (my !== token) return;
        clear(out);
        var versions = (st && Array.isArray(st.versions)) ? st.versions : [];
        versions.forEach(function (v) {
          if (!playbooks[v.playbook]) {
            playbooks[v.playbook] = true;
            var op = el('option', '', v.title ? v.title + ' (' + v.playbook + ')' : v.playbook);
            op.value = v.playbook;
            pb.appendChild(op);
          }
        });
        pb.value = state.playbook;
        if (!versions.length) {
          var e = el('div', 'screen-empty');
          e.appendChild(el('strong', '', 'No conversations counted yet'));
          e.appendChild(D.createTextNode('Each conversation is counted as it happens: start one from the widget and come back.'));
          out.appendChild(e);
          return;
        }
        var experiments = (st && Array.isArray(st.experiments)) ? st.experiments : [];
        experiments.forEach(function (x, i) { out.appendChild(experimentBox(x, i)); });
        versions.forEach(function (v, i) { out.appendChild(versionBox(v, i)); });
      }, function (err) {
        if (my !== token) return;
        clear(out);
        P.screenError(out, err && err.status === 403 ? 'Only admins and marketers see the funnel.' : (err && err.message) || 'That didn’t work.');
      });
    }
    form.addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
    pb.addEventListener('change', load);
    load();
  }

  // An A/B experiment: for each outcome (and record kind), each variant's
  // conversion with its 95 % Wilson interval, as the API computed them.
  function rate(r) { return (Number(r || 0) * 100).toFixed(1) + '%'; }
  function goalText(g) {
    if (g === '') return 'Ended without an outcome';
    if (g.indexOf('record:') === 0) return 'Became a ' + g.slice(7);
    return 'Ended: ' + g;
  }
  function experimentBox(x, i) {
    var sec = el('section', 'funnel-version funnel-experiment');
    sec.setAttribute('data-playbook', x.playbook);
    sec.setAttribute('data-experiment', x.experiment);
    var h = el('h3', '', 'A/B test ' + x.experiment + ' ');
    h.id = 'funnel-x' + i;
    sec.setAttribute('aria-labelledby', h.id);
    h.appendChild(el('span', 'tag tag-version', str(x.playbook)));
    sec.appendChild(h);
    var parts = (x.variants || []).map(function (v) { return v.variant + ' ' + num(v.conversations); });
    sec.appendChild(el('p', 'funnel-meta', 'Conversations per variant: ' + parts.join(' · ')));
    (x.goals || []).forEach(function (g) {
      var t = el('table', 'funnel-ab');
      t.setAttribute('data-goal', g.goal);
      t.appendChild(el('caption', '', goalText(g.goal)));
      var head = el('tr');
      ['Variant', 'Reached', 'Rate', '95% interval'].forEach(function (c) {
        var th = el('th', '', c);
        th.scope = 'col';
        head.appendChild(th);
      });
      var thead = el('thead');
      thead.appendChild(head);
      t.appendChild(thead);
      var tb = el('tbody');
      (g.variants || []).forEach(function (r) {
        var tr = el('tr');
        tr.setAttribute('data-variant', r.variant);
        var th = el('th', '', r.variant + ' ');
        th.scope = 'row';
        if (r.best) th.appendChild(el('span', 'tag tag-live', 'best'));
        tr.appendChild(th);
        tr.appendChild(el('td', 'funnel-ab-reached', num(r.reached) + ' of ' + num(r.conversations)));
        tr.appendChild(el('td', 'funnel-ab-rate', rate(r.rate)));
        tr.appendChild(el('td', 'funnel-ab-ci', rate(r.low) + ' – ' + rate(r.high)));
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      sec.appendChild(t);
    });
    sec.appendChild(el('p', 'funnel-meta', 'The interval is the Wilson score interval: the true rate lies in it with 95% confidence. A variant is marked best only when its interval lies above every other’s.'));
    return sec;
  }

  function versionBox(v, i) {
    var sec = el('section', 'funnel-version');
    sec.setAttribute('data-playbook', v.playbook);
    sec.setAttribute('data-version', v.version);
    var h = el('h3', '', (v.title || v.playbook) + ' ');
    h.id = 'funnel-v' + i;
    sec.setAttribute('aria-labelledby', h.id);
    h.appendChild(el('span', 'tag tag-version', 'version ' + str(v.short)));
    // "greeting=short,pricing=b": the A/B variants the conversations are in
    if (v.variant) h.appendChild(el('span', 'tag tag-label', 'variant ' + v.variant.split(',').map(function (p) { return p.replace('=', ': '); }).join(', ')));
    if (v.current) h.appendChild(el('span', 'tag tag-live', 'live'));
    sec.appendChild(h);
    var started = v.started || 0;
    var meta = el('p', 'funnel-meta');
    meta.appendChild(el('strong', 'funnel-started', num(started) + (started === 1 ? ' conversation' : ' conversations')));
    meta.appendChild(D.createTextNode(' started ' + (v.first === v.last ? 'on ' + dayText(v.first) : dayText(v.first) + ' – ' + dayText(v.last))));
    sec.appendChild(meta);

    var sums = el('dl', 'funnel-sums');
    function sum(label, value, note) {
      var d = el('div', 'funnel-sum');
      d.appendChild(el('dt', '', label));
      var dd = el('dd', '', value);
      if (note) dd.appendChild(el('span', 'funnel-pct', ' ' + note));
      d.appendChild(dd);
      sums.appendChild(d);
    }
    Object.keys(v.outcomes || {}).sort(function (a, b) { return v.outcomes[b] - v.outcomes[a]; }).forEach(function (o) {
      sum('Ended: ' + (o || '(no outcome)'), num(v.outcomes[o]), pct(v.outcomes[o], started));
    });
    Object.keys(v.records || {}).sort().forEach(function (k) {
      sum('Became a ' + k, num(v.records[k]), pct(v.records[k], started));
    });
    sum('Handed off', num(v.handoffs), pct(v.handoffs, started));
    sum('Missed', num(v.missed), pct(v.missed, v.handoffs));
    sec.appendChild(sums);

    var ol = el('ol', 'funnel-cards');
    ol.setAttribute('aria-label', 'Cards of ' + (v.title || v.playbook) + ', version ' + v.short + ', in the playbook’s order');
    (v.cards || []).forEach(function (c) { ol.appendChild(cardRow(c, started)); });
    sec.appendChild(ol);
    return sec;
  }

  function cardRow(c, started) {
    var li = el('li', 'funnel-card' + (c.reached ? '' : ' funnel-unreached'));
    li.setAttribute('data-card', c.card);
    var top = el('div', 'funnel-top');
    top.appendChild(el('span', 'funnel-name', c.card));
    if (c.kind) top.appendChild(el('span', 'tag funnel-kind', c.kind));
    var reach = el('span', 'funnel-reach');
    reach.appendChild(el('strong', '', num(c.reached)));
    reach.appendChild(D.createTextNode(' reached · ' + pct(c.reached, started)));
    top.appendChild(reach);
    li.appendChild(top);
    var bar = el('div', 'funnel-bar');
    bar.setAttribute('aria-hidden', 'true');
    var fill = el('span', 'funnel-fill');
    fill.style.width = (started > 0 ? Math.min(100, c.reached * 100 / started) : 0) + '%';
    bar.appendChild(fill);
    if (c.dropped && started > 0) {
      var drop = el('span', 'funnel-drop');
      drop.style.width = Math.min(100, c.dropped * 100 / started) + '%';
      bar.appendChild(drop);
    }
    li.appendChild(bar);
    var facts = [];
    if (c.asked) {
      facts.push(num(c.answered) + ' answered');
      facts.push(num(c.dropped) + ' dropped (' + pct(c.dropped, c.asked) + ')');
      if (c.median_answer_ms) facts.push('median answer ' + median(c.median_answer_ms));
    }
    if (c.handoffs) facts.push(num(c.handoffs) + ' handed off');
    if (c.ended) facts.push(num(c.ended) + ' ended here');
    if (c.errors) facts.push(num(c.errors) + ' errors');
    if (!c.reached && c.kind === 'logic') facts.push('shows nothing (logic)');
    if (facts.length) li.appendChild(el('p', 'funnel-facts', facts.join(' · ')));
    return li;
  }

  P.screen('funnel', { show: showFunnel });
  window.addEventListener('hashchange', function () {
    if (/^#\/funnel(\/|$)/.test(location.hash)) return;
    var a = $('stats-funnel');
    if (a) a.removeAttribute('aria-current');
  });
})();
