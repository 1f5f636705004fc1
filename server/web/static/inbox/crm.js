/*
 * Playbook inbox: the CRM screens. No dependencies, no build step; loaded
 * after inbox.js, whose helpers it takes from window.PBInbox.
 *
 *   #/tasks            My tasks: open tasks owned by me, overdue, due today
 *                      and coming up; mark done (and undo).
 *   #/leads, #/deals   lists, filtered by owner, stage (deals) and source
 *                      playbook; a row opens #/lead/ID or #/deal/ID.
 *   #/person/ID        a person: contact, leads, deals, tasks, and the
 *                      activity feed (chats, notes, records), by type.
 *   #/lead/ID, #/deal/ID  a lead or deal: its fields and its feed.
 *
 * Every read is the agent API's (GET /api/tasks ...), which asks the access
 * policy: a screen shows what the server answers, nothing more. Text from
 * the server is inserted as text.
 */
(function () {
  'use strict';
  var P = window.PBInbox;
  if (!P) return;
  var D = document, el = P.el, clear = P.clear, str = P.str;
  function $(id) { return D.getElementById(id); }

  var NAV = [
    { id: 'tasks', name: 'My tasks', short: 'Tasks', icon: ['M9 11l2.5 2.5L16 9', 'M5 4.5h14v15H5z'] },
    { id: 'leads', name: 'Leads', short: 'Leads', icon: ['M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M4.5 20a7.5 7.5 0 0 1 15 0', 'M18 4v4M16 6h4'] },
    { id: 'deals', name: 'Deals', short: 'Deals', icon: ['M4 7.5h16v11H4z', 'M9 7.5V5.5h6v2', 'M4 12.5h16'] }
  ];
  var svg = P.svg;
  function renderNav() {
    var ul = $('crm-nav');
    if (!ul || ul.firstChild) return;
    NAV.forEach(function (n) {
      var li = el('li');
      var a = el('a', 'folder');
      a.href = '#/' + n.id;
      a.id = 'crm-' + n.id;
      a.setAttribute('data-short', n.short);
      a.setAttribute('aria-label', n.name);
      a.appendChild(svg(n.icon));
      a.appendChild(el('span', 'folder-name', n.name));
      li.appendChild(a);
      ul.appendChild(li);
    });
  }
  renderNav();

  // ---- live: the task count and the screen shown follow the feed -----------
  // The agent feed's record frames (a lead or a call-back task the offline
  // path made, a task done in another tab) refresh the count of my tasks
  // due today or overdue, and the CRM screen shown, in place. A change this
  // tab made itself is drawn already: its frame is skipped for a moment.
  var live = null; // refreshes the CRM screen shown (r: the record that changed); null when none is
  var mine = {};   // record id -> when this tab changed it
  var liveT = 0, badgeT = 0;
  function onRecord(r) {
    if (!r || !r.id) return;
    if (r.kind === 'task') { clearTimeout(badgeT); badgeT = setTimeout(refreshBadge, 250); }
    if (!live || (mine[r.id] && Date.now() - mine[r.id] < 10000)) return;
    clearTimeout(liveT);
    liveT = setTimeout(function () { if (live) live(r); }, 250);
  }
  // redraw draws a screen again; focus that was in it goes to its heading
  // rather than to the page.
  function redraw(show) {
    var a = D.activeElement, had = a && a !== D.body && $('screen').contains(a);
    show();
    var h = $('screen-title');
    if (had && h) h.focus();
  }
  // dueBy reports whether task r is due before the end of today (overdue
  // or due today).
  function dueBy(r) {
    var end = new Date(); end.setHours(24, 0, 0, 0);
    var t = Date.parse((r && r.due) || '');
    return !isNaN(t) && t < end.getTime();
  }
  function refreshBadge() {
    P.api('GET', '/api/tasks?owner=me&status=open&limit=200').then(function (list) {
      showBadge((Array.isArray(list) ? list : []).filter(dueBy).length);
    }, function () { /* the count stays as it was */ });
  }
  function showBadge(n) {
    var a = $('crm-tasks');
    if (!a) return;
    var c = a.querySelector('.count'), sr = a.querySelector('.count-text');
    if (!c) {
      c = el('span', 'count hot'); a.appendChild(c);
      sr = el('span', 'sr-only count-text'); a.appendChild(sr);
    }
    c.textContent = n > 199 ? '200+' : String(n);
    c.hidden = !n;
    // The accessible name starts with what is seen: the name, the count.
    sr.textContent = n ? ' due today or overdue' : '';
    if (n) a.removeAttribute('aria-label'); else a.setAttribute('aria-label', 'My tasks');
  }
  window.addEventListener('pbinbox:me', refreshBadge);
  window.addEventListener('pbinbox:record', function (ev) { onRecord(ev.detail); });
  window.addEventListener('pbinbox:resync', function () { refreshBadge(); if (live) live(null); });

  // ---- shared --------------------------------------------------------------
  var token = 0; // the latest screen drawn; an older answer draws nothing
  function begin(title, navId) {
    var f = P.screenFrame(title);
    NAV.forEach(function (n) {
      var a = $('crm-' + n.id);
      if (n.id === navId) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    return { head: f.head, body: f.body, token: ++token };
  }
  function loading(box) {
    var b = el('div', 'boot-inline');
    b.setAttribute('aria-busy', 'true');
    b.appendChild(el('span', 'spinner'));
    box.appendChild(b);
    return b;
  }
  function problem(box, err) {
    clear(box);
    var msg = err && err.status === 403 ? 'This belongs to another team.' : err && err.status === 404 ? 'This does not exist any more.' : (err && err.message) || 'That didn’t work.';
    P.screenError(box, msg);
  }
  function title(r) {
    r = r || {};
    return str(r.title || r.subject || r.name || r.email || r.phone || str(r.content).slice(0, 120) || r.id);
  }
  function money(r) { return r.value != null ? Number(r.value).toLocaleString() + (r.currency ? ' ' + r.currency : '') : ''; }
  function day(iso) { var t = Date.parse(iso || ''); return isNaN(t) ? '' : new Date(t).toLocaleDateString([], { dateStyle: 'medium' }); }
  function dueText(iso) {
    var t = Date.parse(iso || '');
    if (isNaN(t)) return 'No due date';
    var d = new Date(t), now = new Date();
    var sameDay = d.toDateString() === now.toDateString();
    return sameDay ? 'Today ' + d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : P.full(iso);
  }
  function recordHref(r) {
    if (!r || !r.id) return '';
    if (r.kind === 'person') return '#/person/' + encodeURIComponent(r.id);
    if (r.kind === 'lead' || r.kind === 'deal') return '#/' + r.kind + '/' + encodeURIComponent(r.id);
    return '';
  }
  function convHref(id) { return '#/closed/' + encodeURIComponent(id); }
  function agentName(id, fallback) {
    var me = P.me();
    if (me && id === me.id) return 'You';
    var a = (P.agents() || []).filter(function (x) { return x.id === id; })[0];
    return a ? a.name : (fallback || '');
  }
  function link(href, text, cls) { var a = el('a', cls || '', text); a.href = href; return a; }

  // ---- My tasks -------------------------------------------------------------
  function showTasks() {
    var v = begin('My tasks', 'tasks');
    live = function (r) { if (!r || r.kind === 'task') redraw(showTasks); };
    v.head.appendChild(el('p', 'screen-sub', 'Open tasks assigned to you: call-backs the bot scheduled, follow-ups you made.'));
    var spin = loading(v.body);
    // Open tasks of mine, due any time: grouped here as overdue, due today
    // and coming up (a call-back is due the next day).
    P.api('GET', '/api/tasks?owner=me&status=open&limit=200').then(function (list) {
      if (v.token !== token) return;
      spin.remove();
      list = Array.isArray(list) ? list : [];
      var start = new Date(); start.setHours(0, 0, 0, 0);
      var end = new Date(start.getTime()); end.setDate(end.getDate() + 1);
      showBadge(list.filter(dueBy).length);
      var groups = [
        { id: 'overdue', name: 'Overdue', items: [] },
        { id: 'today', name: 'Due today', items: [] },
        { id: 'later', name: 'Coming up', items: [] }
      ];
      list.forEach(function (r) {
        var t = Date.parse(r.due || '');
        (isNaN(t) ? groups[2] : t < start.getTime() ? groups[0] : t < end.getTime() ? groups[1] : groups[2]).items.push(r);
      });
      groups.forEach(function (g) {
        g.items.sort(function (a, b) { return (Date.parse(a.due || '') || Infinity) - (Date.parse(b.due || '') || Infinity); });
      });
      if (!list.length) {
        var e = el('div', 'screen-empty');
        e.appendChild(el('strong', '', 'Nothing to do'));
        e.appendChild(D.createTextNode('Tasks assigned to you show up here, such as the call-backs the bot schedules when your team is away.'));
        v.body.appendChild(e);
        return;
      }
      groups.forEach(function (g) {
        if (!g.items.length) return;
        var sec = el('section', 'crm-group crm-group-' + g.id);
        var h = el('h3', '', g.name + ' ');
        h.id = 'tasks-' + g.id;
        h.appendChild(el('span', 'count', String(g.items.length)));
        sec.setAttribute('aria-labelledby', h.id);
        sec.appendChild(h);
        var ul = el('ul', 'crm-rows');
        g.items.forEach(function (r) { ul.appendChild(taskRow(r, g.id)); });
        sec.appendChild(ul);
        v.body.appendChild(sec);
      });
    }, function (err) { if (v.token === token) problem(v.body, err); });
  }
  function taskRow(r, group) {
    var li = el('li', 'crm-row task');
    li.setAttribute('data-id', r.id);
    var b = el('button', 'task-check');
    b.type = 'button';
    b.setAttribute('aria-pressed', 'false');
    b.setAttribute('aria-label', 'Mark done: ' + title(r));
    b.appendChild(svg(['M6 12.5l4 4 8-9']));
    li.appendChild(b);
    var main = el('div', 'crm-main');
    main.appendChild(el('span', 'crm-title', title(r)));
    var meta = el('span', 'crm-meta');
    var due = el('span', 'due' + (group === 'overdue' ? ' overdue' : ''), dueText(r.due));
    meta.appendChild(due);
    if (r.type) meta.appendChild(el('span', 'tag', r.type));
    if (r.person) meta.appendChild(link('#/person/' + encodeURIComponent(r.person), 'Contact', 'crm-link'));
    if (r.conversation) meta.appendChild(link(convHref(r.conversation), 'Chat', 'crm-link'));
    main.appendChild(meta);
    if (r.note) main.appendChild(el('span', 'crm-note', r.note));
    li.appendChild(main);
    b.addEventListener('click', function () {
      var done = b.getAttribute('aria-pressed') !== 'true';
      b.disabled = true;
      mine[r.id] = Date.now();
      P.api('POST', '/api/tasks/' + encodeURIComponent(r.id) + '/done', { done: done }).then(function (t) {
        b.disabled = false;
        refreshBadge();
        var isDone = !!(t && t.done_at);
        b.setAttribute('aria-pressed', String(isDone));
        b.setAttribute('aria-label', (isDone ? 'Done, mark open again: ' : 'Mark done: ') + title(r));
        li.classList.toggle('done', isDone);
        P.toast({ title: isDone ? 'Task done' : 'Task open again', text: title(r), ms: 3000 });
      }, function (err) { b.disabled = false; P.fail('Couldn’t change the task')(err); });
    });
    return li;
  }

  // ---- leads and deals --------------------------------------------------------
  var filters = { lead: { owner: '', playbook: '' }, deal: { owner: '', stage: '', playbook: '' } };
  function showList(kind) {
    var plural = kind === 'lead' ? 'Leads' : 'Deals';
    var v = begin(plural, kind + 's');
    var f = filters[kind];
    var form = el('form', 'crm-filters');
    form.setAttribute('role', 'search');
    form.setAttribute('aria-label', 'Filter ' + plural.toLowerCase());
    function field(name, label, input) {
      var l = el('label', 'field field-inline');
      l.appendChild(el('span', '', label));
      input.name = name;
      input.id = 'f-' + kind + '-' + name;
      l.appendChild(input);
      form.appendChild(l);
      return input;
    }
    var owner = field('owner', 'Owner', el('select'));
    [['', 'Anyone'], ['me', 'Me']].concat((P.agents() || []).filter(function (a) { var me = P.me(); return !me || a.id !== me.id; }).map(function (a) { return [a.id, a.name]; }))
      .forEach(function (o) { var op = el('option', '', o[1]); op.value = o[0]; owner.appendChild(op); });
    owner.value = f.owner;
    var stage = null;
    if (kind === 'deal') {
      stage = field('stage', 'Stage', el('input'));
      stage.placeholder = 'Any';
      stage.setAttribute('list', 'f-stages');
      stage.autocomplete = 'off';
      stage.value = f.stage;
    }
    var pb = field('playbook', 'Source playbook', el('input'));
    pb.placeholder = 'Any';
    pb.setAttribute('list', 'f-playbooks');
    pb.autocomplete = 'off';
    pb.value = f.playbook;
    var go = el('button', 'btn btn-ghost', 'Filter');
    go.type = 'submit';
    form.appendChild(go);
    var lists = el('div');
    lists.hidden = true;
    v.head.appendChild(form);
    v.head.appendChild(lists);
    var out = el('div', 'crm-results');
    out.setAttribute('aria-live', 'polite');
    v.body.appendChild(out);
    function load() {
      f.owner = owner.value;
      f.playbook = pb.value.trim();
      if (stage) f.stage = stage.value.trim();
      var q = [];
      Object.keys(f).forEach(function (k) { if (f[k]) q.push(k + '=' + encodeURIComponent(f[k])); });
      q.push('limit=200');
      clear(out);
      var spin = loading(out);
      var my = token;
      P.api('GET', '/api/' + kind + 's?' + q.join('&')).then(function (list) {
        if (my !== token) return;
        spin.remove();
        list = Array.isArray(list) ? list : [];
        suggest(lists, list);
        out.appendChild(el('p', 'screen-sub', list.length === 1 ? '1 ' + kind : list.length + ' ' + kind + 's'));
        if (!list.length) {
          var e = el('div', 'screen-empty');
          e.appendChild(el('strong', '', 'No ' + kind + 's'));
          e.appendChild(D.createTextNode(q.length > 1 ? 'None matches these filters.' : 'The ' + kind + 's your playbooks and your team create show up here.'));
          out.appendChild(e);
          return;
        }
        var ul = el('ul', 'crm-rows');
        list.forEach(function (r) { ul.appendChild(recordRow(r)); });
        out.appendChild(ul);
      }, function (err) { if (my === token) problem(out, err); });
    }
    form.addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
    owner.addEventListener('change', load);
    live = function (r) { if (!r || r.kind === kind) load(); };
    load();
  }
  // suggest fills the datalists of stages and playbooks from what a list
  // answered (agents have no list of playbooks of their own).
  function suggest(box, list) {
    var sets = { stages: {}, playbooks: {} };
    list.forEach(function (r) { if (r.stage) sets.stages[r.stage] = 1; if (r.playbook) sets.playbooks[r.playbook] = 1; });
    Object.keys(sets).forEach(function (k) {
      var dl = $('f-' + k) || box.appendChild(el('datalist'));
      dl.id = 'f-' + k;
      Object.keys(sets[k]).sort().forEach(function (v) {
        if (dl.querySelector('option[value="' + CSS.escape(v) + '"]')) return;
        var o = el('option'); o.value = v; dl.appendChild(o);
      });
    });
  }
  function recordRow(r) {
    var li = el('li', 'crm-row');
    li.setAttribute('data-id', r.id);
    var a = link(recordHref(r) || '#/' + r.kind + 's', '', 'crm-open');
    a.appendChild(el('span', 'crm-title', title(r)));
    var meta = el('span', 'crm-meta');
    [money(r), r.stage, r.owner_name ? 'Owner ' + agentName(r.owner, r.owner_name) : 'No owner', r.playbook ? 'From ' + r.playbook : r.source ? 'From ' + r.source : '', day(r.created_at)]
      .forEach(function (t) { if (t) meta.appendChild(el('span', '', t)); });
    a.appendChild(meta);
    li.appendChild(a);
    return li;
  }

  // ---- a person, a lead, a deal -----------------------------------------------
  var FEED_TYPES = [['', 'All'], ['chats', 'Chats'], ['notes', 'Notes'], ['records', 'Records']];
  function showRecord(kind, id) {
    var v = begin(kind === 'person' ? 'Contact' : kind === 'lead' ? 'Lead' : 'Deal', kind === 'person' ? '' : kind + 's');
    // Any change may be this record's or one linked to it (its person's
    // lead, a task): the page reads again.
    live = function () { redraw(function () { showRecord(kind, id); }); };
    var path = '/api/' + (kind === 'person' ? 'people' : kind + 's') + '/' + encodeURIComponent(id);
    var spin = loading(v.body);
    P.api('GET', path).then(function (d) {
      if (v.token !== token) return;
      spin.remove();
      var r = (d && d.record) || {};
      $('screen-title').textContent = title(r);
      D.title = title(r) + ' · Playbook';
      var card = el('section', 'crm-card');
      card.setAttribute('aria-label', kind === 'person' ? 'Contact details' : 'Details');
      var top = el('div', 'crm-card-top');
      if (kind === 'person') top.appendChild(P.avatarEl(r.name || r.email || r.id, 'avatar-lg', r.email || r.name || r.id));
      var tt = el('div');
      tt.appendChild(el('span', 'record-kind', kind));
      if (kind === 'person' && d.organization) tt.appendChild(el('p', 'crm-org', title(d.organization)));
      top.appendChild(tt);
      card.appendChild(top);
      var rows = kind === 'person'
        ? [['Email', r.email], ['Phone', r.phone], ['Owner', r.owner_name ? agentName(r.owner, r.owner_name) : 'Nobody'], ['Teams', (r.teams || []).join(', ')], ['Since', day(r.created_at)]]
        : [['Value', money(r)], ['Pipeline', r.pipeline], ['Stage', r.stage], ['Expected close', r.expected_close], ['Owner', r.owner_name ? agentName(r.owner, r.owner_name) : 'Nobody'],
          ['Source', r.source], ['Source playbook', r.playbook], ['Labels', (r.labels || []).join(', ')], ['Note', r.note], ['Created', P.full(r.created_at)]];
      if (kind !== 'person' && d.person) rows.unshift(['Contact', link(recordHref(d.person), title(d.person))]);
      if (r.conversation) rows.push(['From the chat', link(convHref(r.conversation), 'Open the chat')]);
      card.appendChild(P.kv(rows));
      v.body.appendChild(card);
      if (kind === 'person') {
        [['leads', 'Leads'], ['deals', 'Deals'], ['tasks', 'Tasks']].forEach(function (x) {
          var list = d[x[0]] || [];
          if (!list.length) return;
          var sec = el('section', 'crm-linked');
          var h = el('h3', '', x[1]);
          h.id = 'linked-' + x[0];
          sec.setAttribute('aria-labelledby', h.id);
          sec.appendChild(h);
          var ul = el('ul', 'crm-rows');
          list.forEach(function (rec) { ul.appendChild(x[0] === 'tasks' ? taskRow(rec, '') : recordRow(rec)); });
          sec.appendChild(ul);
          v.body.appendChild(sec);
        });
        list(d.tasks || []).forEach(function (rec) {
          var row = v.body.querySelector('.task[data-id="' + CSS.escape(rec.id) + '"]');
          if (row && rec.done_at) { row.classList.add('done'); row.querySelector('.task-check').setAttribute('aria-pressed', 'true'); }
        });
      }
      feed(v, path);
    }, function (err) { if (v.token === token) problem(v.body, err); });
  }
  function list(x) { return Array.isArray(x) ? x : []; }
  function feed(v, path) {
    var sec = el('section', 'crm-feed');
    var h = el('h3', '', 'Activity');
    h.id = 'feed-title';
    sec.setAttribute('aria-labelledby', h.id);
    sec.appendChild(h);
    var tabs = el('div', 'feed-tabs');
    tabs.setAttribute('role', 'group');
    tabs.setAttribute('aria-label', 'Show');
    sec.appendChild(tabs);
    var ul = el('ul', 'feed');
    ul.setAttribute('aria-live', 'polite');
    sec.appendChild(ul);
    v.body.appendChild(sec);
    var btns = FEED_TYPES.map(function (t) {
      var b = el('button', 'feed-tab', t[1]);
      b.type = 'button';
      b.setAttribute('data-type', t[0] || 'all');
      b.addEventListener('click', function () { load(t[0]); });
      tabs.appendChild(b);
      return b;
    });
    function load(type) {
      btns.forEach(function (b, i) { b.setAttribute('aria-pressed', String(FEED_TYPES[i][0] === type)); });
      clear(ul);
      var my = token;
      P.api('GET', path + '/feed' + (type ? '?type=' + type : '')).then(function (items) {
        if (my !== token) return;
        clear(ul);
        items = list(items);
        if (!items.length) { ul.appendChild(el('li', 'feed-empty', type ? 'Nothing of this kind yet.' : 'Nothing yet.')); return; }
        items.forEach(function (it) { ul.appendChild(feedItem(it)); });
      }, function (err) { if (my === token) { clear(ul); var li = el('li', 'feed-empty', err.message); ul.appendChild(li); } });
    }
    load('');
  }
  function feedItem(it) {
    var li = el('li', 'feed-item feed-' + str(it.type));
    li.setAttribute('data-type', str(it.type));
    if (it.chat) {
      var c = it.chat;
      li.setAttribute('data-conversation', c.conversation);
      var head = el('div', 'feed-head');
      head.appendChild(el('span', 'record-kind', 'chat'));
      head.appendChild(el('strong', '', c.playbook ? 'Chat · ' + c.playbook : 'Chat'));
      li.appendChild(head);
      var span = P.full(c.started_at) + (c.ended_at ? ' – ' + P.full(c.ended_at) : ' · still open');
      li.appendChild(el('p', 'feed-meta', span + (c.agent ? ' · with ' + c.agent : ' · with the bot') + (c.outcome ? ' · ' + c.outcome : '')));
      if (c.first_message) li.appendChild(el('p', 'feed-text', '“' + c.first_message + '”'));
      var links = el('p', 'feed-links');
      links.appendChild(link(convHref(c.conversation), 'Open the transcript', 'feed-transcript'));
      var txt = link(str(c.transcript) + '?format=txt', 'Download (.txt)', 'feed-download');
      txt.setAttribute('download', '');
      links.appendChild(txt);
      li.appendChild(links);
      return li;
    }
    var r = it.record || {};
    var head2 = el('div', 'feed-head');
    head2.appendChild(el('span', 'record-kind', it.type === 'note' ? 'note' : str(r.kind)));
    var href = recordHref(r);
    head2.appendChild(href ? link(href, title(r)) : el('strong', '', title(r)));
    li.appendChild(head2);
    var m = [money(r), r.stage, r.due ? 'due ' + P.full(r.due) : '', r.done_at ? 'done' : '', r.created_by_name ? 'by ' + r.created_by_name : '', P.full(it.at)];
    li.appendChild(el('p', 'feed-meta', m.filter(Boolean).join(' · ')));
    if (it.type === 'note' && r.content && r.content !== title(r)) li.appendChild(el('p', 'feed-text', r.content));
    return li;
  }

  P.screen('tasks', { show: showTasks });
  P.screen('leads', { show: function () { showList('lead'); } });
  P.screen('deals', { show: function () { showList('deal'); } });
  P.screen('person', { show: function (id) { showRecord('person', id); } });
  P.screen('lead', { show: function (id) { showRecord('lead', id); } });
  P.screen('deal', { show: function (id) { showRecord('deal', id); } });
  // Leaving the CRM screens: their nav links are no longer current.
  window.addEventListener('hashchange', function () {
    if (/^#\/(tasks|leads|deals|person|lead|deal)(\/|$)/.test(location.hash)) return;
    live = null;
    NAV.forEach(function (n) { var a = $('crm-' + n.id); if (a) a.removeAttribute('aria-current'); });
  });
})();
