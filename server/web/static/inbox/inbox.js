/*
 * Playbook agent inbox. One file, no dependencies, no build step.
 *
 * Talks to the server it came from (docs/protocol.md, "The agent inbox API"
 * and "/ws/agent"): REST for actions, the /ws/agent websocket for live
 * updates. Every text from the server is inserted as text (textContent);
 * agent messages and notes go through rich(), a tiny renderer for
 * **bold**, *italic* and http(s)/mailto links that builds elements one by
 * one. Nothing is ever parsed as HTML.
 */
(function () {
  'use strict';
  var D = document, W = window;
  function $(id) { return D.getElementById(id); }

  // ---- small helpers -------------------------------------------------
  function el(tag, cls, text) {
    var n = D.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); return n; }
  // screenFrame(title, sub): empties #screen and draws a screen's heading
  // (focusable, #screen-title), its optional subtitle and an empty body;
  // sets the document title. The screens in their own files (crm.js,
  // stats.js, admin.js) start with it.
  function screenFrame(title, sub) {
    var box = clear(D.getElementById('screen'));
    var head = el('div', 'screen-head');
    var h = el('h2', '', title);
    h.id = 'screen-title';
    h.tabIndex = -1;
    head.appendChild(h);
    if (sub) head.appendChild(el('p', 'screen-sub', sub));
    box.appendChild(head);
    var body = el('div', 'screen-body');
    box.appendChild(body);
    D.title = title + ' · Playbook';
    return { head: head, body: body };
  }
  // screenError(box, msg): a message that something went wrong or is not
  // allowed, announced to screen readers, added to box.
  function screenError(box, msg) {
    var p = el('p', 'screen-error', msg);
    p.setAttribute('role', 'alert');
    box.appendChild(p);
    return p;
  }
  var SVGNS = 'http://www.w3.org/2000/svg';
  var ICONS = {
    unassigned: ['M4 13.5V18a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-4.5', 'M4 13.5l2.4-7.2A2 2 0 0 1 8.3 5h7.4a2 2 0 0 1 1.9 1.3l2.4 7.2', 'M4 13.5h4l1.5 2.5h5l1.5-2.5h4'],
    mine: ['M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M4.5 20a7.5 7.5 0 0 1 15 0'],
    open: ['M4 6.5A2.5 2.5 0 0 1 6.5 4h11A2.5 2.5 0 0 1 20 6.5v7a2.5 2.5 0 0 1-2.5 2.5H10l-4.5 4v-4A2.5 2.5 0 0 1 4 13.5z', 'M8.5 9h7M8.5 12h4'],
    snoozed: ['M12 21a8 8 0 1 0 0-16 8 8 0 0 0 0 16z', 'M12 9v4l2.5 2.5', 'M5 3L2 6M19 3l3 3'],
    closed: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M8 12.5l2.8 2.8L16.5 9.5'],
    missed: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 7.5v5.5', 'M12 16.2v.3'],
    bell: ['M6 16V11a6 6 0 1 1 12 0v5l1.5 2h-15z', 'M10 20.5a2 2 0 0 0 4 0'],
    close: ['M6 6l12 12M18 6L6 18'],
    trash: ['M4 7h16', 'M10 11v6M14 11v6', 'M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12', 'M9 7V4.5A1.5 1.5 0 0 1 10.5 3h3A1.5 1.5 0 0 1 15 4.5V7'],
    lock: ['M6.5 11h11v9h-11z', 'M8.5 11V8a3.5 3.5 0 0 1 7 0v3'],
    spark: ['M12 3v4M12 17v4M3 12h4M17 12h4M6 6l2.5 2.5M15.5 15.5L18 18M18 6l-2.5 2.5M8.5 15.5L6 18']
  };
  // svg(paths, cls): a decorative 24x24 icon drawn from path data; the
  // screens in their own files (crm.js, stats.js, admin.js, files.js) use
  // it through PBInbox.svg.
  function svg(paths, cls) {
    var s = D.createElementNS(SVGNS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    s.setAttribute('class', 'i' + (cls ? ' ' + cls : ''));
    paths.forEach(function (d) {
      var p = D.createElementNS(SVGNS, 'path');
      p.setAttribute('d', d);
      s.appendChild(p);
    });
    return s;
  }
  function icon(name, cls) { return svg(ICONS[name] || [], cls); }
  function cmpID(a, b) { // Redis stream ids: "ms-seq"
    var x = String(a || '').split('-'), y = String(b || '').split('-');
    return (+x[0] - +y[0]) || ((+x[1] || 0) - (+y[1] || 0));
  }
  function newID() {
    if (W.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }
  function getLS(k, def) { try { var v = localStorage.getItem(k); return v ? JSON.parse(v) : def; } catch (e) { return def; } }
  function setLS(k, v) { try { localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* full or off */ } }
  function str(v) { return v == null ? '' : String(v); }

  // ---- time ------------------------------------------------------------
  function parseT(iso) { var t = Date.parse(iso || ''); return isNaN(t) ? 0 : t; }
  function ago(iso) {
    var t = parseT(iso);
    if (!t) return '';
    var s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 45) return 'now';
    if (s < 3600) return Math.max(1, Math.round(s / 60)) + 'm';
    if (s < 86400) return Math.floor(s / 3600) + 'h';
    if (s < 7 * 86400) return Math.floor(s / 86400) + 'd';
    return new Date(t).toLocaleDateString([], { month: 'short', day: 'numeric' });
  }
  function clock(iso) { var t = parseT(iso); return t ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : ''; }
  function full(iso) { var t = parseT(iso); return t ? new Date(t).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : ''; }
  function dayLabel(t) {
    var d = new Date(t), today = new Date();
    var y = new Date(); y.setDate(today.getDate() - 1);
    if (d.toDateString() === today.toDateString()) return 'Today';
    if (d.toDateString() === y.toDateString()) return 'Yesterday';
    return d.toLocaleDateString([], { weekday: 'long', month: 'long', day: 'numeric' });
  }
  function timeEl(iso, fmt) {
    var n = el('time', '', fmt === 'clock' ? clock(iso) : ago(iso));
    n.dateTime = iso || '';
    n.title = full(iso);
    if (fmt !== 'clock') n.setAttribute('data-ago', '');
    return n;
  }

  // ---- safe text -------------------------------------------------------
  var SCHEMES = ['http:', 'https:', 'mailto:'];
  function safeHref(u) {
    try { var x = new URL(String(u)); return SCHEMES.indexOf(x.protocol) >= 0 ? x.href : ''; } catch (e) { return ''; }
  }
  function link(href, label) {
    var a = el('a', '', label);
    a.href = href;
    if (!/^mailto:/i.test(href)) { a.target = '_blank'; a.rel = 'noopener noreferrer nofollow'; }
    return a;
  }
  var TRAIL = /[.,;:!?)\]}'"*]+$/;
  var BARE = /https?:\/\/[^\s<>"']+/g;
  // plain inserts text, with @mentions highlighted when asked to.
  function plain(box, text, mentions) {
    if (!mentions) { box.appendChild(D.createTextNode(text)); return; }
    var re = /(^|[^\w@])(@[\p{L}\p{N}_.-]*[\p{L}\p{N}_])/gu, last = 0, m;
    while ((m = re.exec(text))) {
      var at = m.index + m[1].length;
      if (at > last) box.appendChild(D.createTextNode(text.slice(last, at)));
      box.appendChild(el('span', 'mention', m[2]));
      last = at + m[2].length;
    }
    if (last < text.length) box.appendChild(D.createTextNode(text.slice(last)));
  }
  // linkify inserts text with bare http(s) addresses as links (visitor and bot text).
  function linkify(box, text, mentions) {
    text = str(text);
    var last = 0, m;
    BARE.lastIndex = 0;
    while ((m = BARE.exec(text))) {
      var u = m[0].replace(TRAIL, '');
      var href = u.length > 8 ? safeHref(u) : '';
      if (!href) continue;
      if (m.index > last) plain(box, text.slice(last, m.index), mentions);
      box.appendChild(link(href, u));
      last = m.index + u.length;
      BARE.lastIndex = last;
    }
    if (last < text.length) plain(box, text.slice(last), mentions);
  }
  // rich renders an agent's text: **bold**, *italic*, [label](url) and bare
  // links; everything else stays text. Links only for http, https, mailto.
  var RICH = /\*\*([^\s*](?:[^*\n]*?[^\s*])?)\*\*|\*([^\s*](?:[^*\n]*?[^\s*])?)\*|\[([^\]\n]{1,300})\]\(([^()\s]{1,2000})\)/g;
  function rich(box, text, mentions) {
    text = str(text);
    var re = new RegExp(RICH.source, 'g'), last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) linkify(box, text.slice(last, m.index), mentions);
      if (m[1] != null) { var b = el('strong'); rich(b, m[1], mentions); box.appendChild(b); }
      else if (m[2] != null) { var i = el('em'); rich(i, m[2], mentions); box.appendChild(i); }
      else {
        var href = safeHref(m[4]);
        if (href) box.appendChild(link(href, m[3]));
        else plain(box, m[0], mentions);
      }
      last = re.lastIndex;
    }
    if (last < text.length) linkify(box, text.slice(last), mentions);
  }

  // ---- avatars -----------------------------------------------------------
  // Each at least 4.5:1 against the white initials (axe-core's contrast rule).
  var PALETTE = ['#0b7a75', '#3b5bdb', '#7048e8', '#c2255c', '#b93d0b', '#237032', '#1971c2', '#9c36b5', '#4263eb', '#c2410c'];
  function hue(s) { var h = 0; s = str(s); for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return PALETTE[Math.abs(h) % PALETTE.length]; }
  function initials(name) {
    var w = str(name).replace(/@.*/, '').split(/[\s._-]+/).filter(function (x) { return /[\p{L}\p{N}]/u.test(x); });
    if (!w.length) return '?';
    var a = (/[\p{L}\p{N}]/u.exec(w[0]) || [''])[0];
    var b = w.length > 1 ? (/[\p{L}\p{N}]/u.exec(w[w.length - 1]) || [''])[0] : '';
    return (a + b).toUpperCase();
  }
  function avatar(node, name, seed) {
    clear(node);
    node.textContent = initials(name);
    node.style.setProperty('--av', hue(seed || name));
    return node;
  }
  function avatarEl(name, cls, seed) { var n = el('span', 'avatar' + (cls ? ' ' + cls : '')); n.setAttribute('aria-hidden', 'true'); return avatar(n, name, seed); }

  // ---- state -------------------------------------------------------------
  var FOLDERS = [
    { id: 'unassigned', name: 'Unassigned', short: 'Queue', has: function (c) { return c.status === 'open' && !c.assignee; } },
    { id: 'mine', name: 'Mine', short: 'Mine', has: function (c) { return c.status === 'open' && !!S.me && c.assignee === S.me.id; } },
    { id: 'open', name: 'All open', short: 'Open', has: function (c) { return c.status === 'open'; } },
    { id: 'snoozed', name: 'Snoozed', short: 'Snoozed', has: function (c) { return c.status === 'snoozed'; } },
    { id: 'missed', name: 'Missed', short: 'Missed', has: function (c) { return c.status === 'missed'; } },
    { id: 'closed', name: 'Closed', short: 'Closed', has: function (c) { return c.status === 'resolved'; } }
  ];
  var FOLDER = {};
  FOLDERS.forEach(function (f) { FOLDER[f.id] = f; });
  var EMPTY = {
    unassigned: ['No one is waiting', 'Chats your playbooks hand to your teams show up here.'],
    mine: ['Nothing assigned to you', 'Take a chat from Unassigned to answer it.'],
    open: ['No open conversations', 'Open chats of your teams show up here.'],
    snoozed: ['Nothing snoozed', 'Snoozed chats come back when the visitor replies or the time is up.'],
    missed: ['No missed chats', 'Chats nobody took in time show up here, with what the bot collected.'],
    closed: ['No resolved conversations', 'Resolved chats are kept here.']
  };

  var S = {
    me: null, csrf: '', presence: 'offline',
    convs: {},            // id -> conversation
    member: {},           // folder -> {id: true}
    folder: 'unassigned', openId: '', filter: '',
    detail: null,         // GET /api/conversations/{id} for the open one
    entries: [], byId: {}, deleted: {}, pending: {}, lastRendered: null,
    loadingView: false, viewToken: 0,
    agents: [], canned: null,
    typingIn: {},         // conversation -> {from, name, until}
    ws: null, wsAttempt: 0, wsTimer: 0, hbTimer: 0, wsHello: false, everConnected: false, stopped: true,
    mode: 'reply', drafts: {},
    myTyping: { on: false, conv: '', sent: 0, timer: 0 },
    seen: {}, prefs: { sound: true, desktop: true }, selfAssign: {}, collected: {},
    crm: null,            // GET /api/conversations/{id}/crm for the open one; null: none
    audio: null
  };
  FOLDERS.forEach(function (f) { S.member[f.id] = {}; });

  // ---- API ----------------------------------------------------------------
  function ApiError(status, message) { this.status = status; this.message = message; }
  function api(method, path, body) {
    var h = { 'Accept': 'application/json' };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (method !== 'GET' && S.csrf) h['X-CSRF-Token'] = S.csrf;
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.status === 204) return null;
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (!r.ok) {
            var msg = (data && data.error) || r.statusText || ('HTTP ' + r.status);
            if (r.status === 401 && path !== '/api/auth/login' && path !== '/api/me') signedOut();
            throw new ApiError(r.status, msg);
          }
          return data;
        });
      }, function () { throw new ApiError(0, 'The server cannot be reached. Check your connection.'); });
  }
  function convPath(id, rest) { return '/api/conversations/' + encodeURIComponent(id) + (rest || ''); }

  // ---- toasts ---------------------------------------------------------------
  function toast(o) {
    var box = $('toasts');
    while (box.children.length >= 4) box.removeChild(box.firstChild);
    var t = el('div', 'toast' + (o.error ? ' error' : ''));
    t.setAttribute('role', o.error ? 'alert' : 'status');
    if (o.kind) t.setAttribute('data-kind', o.kind);
    if (o.conversation) t.setAttribute('data-conversation', o.conversation);
    var ic = el('span', 'toast-icon');
    ic.appendChild(icon(o.error ? 'close' : 'bell', 'i-sm'));
    var body = el('div', 'toast-body');
    body.appendChild(el('strong', '', o.title));
    if (o.text) body.appendChild(el('p', '', o.text));
    t.appendChild(ic);
    t.appendChild(body);
    if (o.action) {
      var b = el('button', 'btn', o.action);
      b.type = 'button';
      b.addEventListener('click', function () { dismiss(); o.onAction(); });
      t.appendChild(b);
    }
    var x = el('button', 'icon-btn');
    x.type = 'button';
    x.setAttribute('aria-label', 'Dismiss');
    x.appendChild(icon('close', 'i-sm'));
    x.addEventListener('click', dismiss);
    t.appendChild(x);
    box.appendChild(t);
    var timer = setTimeout(dismiss, o.ms || 8000);
    t.addEventListener('mouseenter', function () { clearTimeout(timer); });
    t.addEventListener('mouseleave', function () { timer = setTimeout(dismiss, 3000); });
    function dismiss() { clearTimeout(timer); if (t.parentNode) t.parentNode.removeChild(t); }
    return t;
  }
  function fail(what) {
    return function (err) {
      var msg = err && err.message ? err.message : String(err);
      if (err && err.status === 409 && /assign/i.test(what) && /already taken/i.test(msg)) msg = 'Someone else took this chat first.';
      toast({ title: what, text: msg, error: true });
    };
  }

  // ---- sound and desktop notifications ---------------------------------------
  // Browsers allow sound only after a user gesture, and the notification
  // permission is asked once, on the first click (never on load).
  function unlockAudio() {
    D.removeEventListener('keydown', unlockAudio, true);
    try {
      var AC = W.AudioContext || W.webkitAudioContext;
      if (AC && !S.audio) S.audio = new AC();
      if (S.audio && S.audio.state === 'suspended') S.audio.resume();
    } catch (e) { /* no audio */ }
  }
  function firstClick() {
    D.removeEventListener('click', firstClick, true);
    unlockAudio();
    if (S.prefs.desktop && 'Notification' in W && Notification.permission === 'default' && !getLS('pb-inbox:asked', false)) {
      setLS('pb-inbox:asked', true);
      try { Notification.requestPermission().then(desktopState, desktopState); } catch (e) { /* old API */ }
    }
  }
  function beep() {
    var ac = S.audio;
    if (!S.prefs.sound || !ac || ac.state !== 'running') return;
    var t0 = ac.currentTime;
    [[880, 0], [1318.5, 0.13]].forEach(function (n) {
      var o = ac.createOscillator(), g = ac.createGain();
      o.type = 'sine';
      o.frequency.value = n[0];
      g.gain.setValueAtTime(0.0001, t0 + n[1]);
      g.gain.exponentialRampToValueAtTime(0.18, t0 + n[1] + 0.015);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + n[1] + 0.16);
      o.connect(g); g.connect(ac.destination);
      o.start(t0 + n[1]); o.stop(t0 + n[1] + 0.18);
    });
  }
  function desktop(title, body, conv) {
    if (!S.prefs.desktop || !('Notification' in W) || Notification.permission !== 'granted') return;
    if (!D.hidden && D.hasFocus()) return; // the toast is enough
    try {
      var n = new Notification(title, { body: body || '', tag: 'pb-' + conv, renotify: true });
      n.onclick = function () { W.focus(); if (conv) go(S.folder, conv, true); n.close(); };
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }
  function desktopState() {
    var s = $('desktop-state');
    if (!s) return;
    if (!('Notification' in W)) s.textContent = '(not supported by this browser)';
    else if (Notification.permission === 'denied') s.textContent = '(blocked in the browser’s site settings)';
    else if (Notification.permission === 'default') s.textContent = '(the browser asks on your next click)';
    else s.textContent = '';
  }
  var NOTIFY_TITLE = { new_chat: 'New chat', assigned: 'Assigned to you', mention: 'You were mentioned', reopened: 'Chat reopened', missed: 'Missed chat' };
  function onNotify(f) {
    // The conversation comes as an object (or, from older servers, an id).
    var c = f.conversation && typeof f.conversation === 'object' ? f.conversation : S.convs[f.conversation];
    var id = c ? c.id : str(f.conversation);
    if (f.conversation && typeof f.conversation === 'object') { upsert(f.conversation); scheduleList(); }
    // Taking a chat myself tells me too: no need to ring for that.
    if (f.kind === 'assigned' && S.selfAssign[id] && Date.now() - S.selfAssign[id] < 10000) return;
    beep();
    var title = f.title || NOTIFY_TITLE[f.kind] || 'Inbox';
    var text = f.text || (c ? visitorName(c) : '');
    toast({
      title: title, text: text, kind: f.kind, conversation: id, action: 'Open', ms: 10000,
      onAction: function () {
        var cc = S.convs[id];
        var folder = !cc ? S.folder : cc.status === 'snoozed' ? 'snoozed' : cc.status === 'resolved' ? 'closed' : cc.status === 'missed' ? 'missed' : !cc.assignee ? 'unassigned' : S.me && cc.assignee === S.me.id ? 'mine' : 'open';
        go(folder, id, true);
      }
    });
    desktop(title, text, id);
  }

  // ---- conversations: the local copy -----------------------------------------
  // visitorName titles a conversation: the visitor's name, else their
  // email (or the one the bot collected, known once the conversation was
  // opened) as "ana at Acme", else "Visitor".
  function visitorName(c) {
    var v = (c && c.visitor) || {};
    var e = v.email || (c && S.collected[c.id]) || '';
    return v.name || (e ? emailTitle(e) : 'Visitor');
  }
  // emailTitle: "ana.lopez@eu.acme.co.uk" is "ana.lopez at Acme": the
  // address's name at the company its domain names (as the CRM names
  // organizations). A free-mail address names no company: it stays whole.
  var FREE_MAIL = /^(gmail|googlemail|yahoo|ymail|hotmail|outlook|live|msn|icloud|me|mac|aol|proton|protonmail|pm|gmx|web|mail|yandex|qq|163|126|zoho|fastmail|hey|t-online|orange|free|libero)$/;
  function emailTitle(email) {
    var at = email.lastIndexOf('@');
    if (at < 1) return email;
    var labels = email.slice(at + 1).toLowerCase().split('.').filter(Boolean);
    if (labels.length < 2) return email;
    // The registrable part: the label before a two-part suffix (co.uk,
    // com.au) or before the top-level domain.
    var i = labels.length - 2;
    if (i > 0 && /^(co|com|org|net|gov|ac|edu)$/.test(labels[i]) && labels[labels.length - 1].length === 2) i--;
    var name = labels[i];
    if (FREE_MAIL.test(name)) return email;
    return email.slice(0, at) + ' at ' + name.charAt(0).toUpperCase() + name.slice(1);
  }
  function upsert(c, fromFolder) {
    if (!c || !c.id) return;
    var old = S.convs[c.id];
    if (old && old.last && c.last && parseT(old.last.at) > parseT(c.last.at)) c.last = old.last; // keep the newer preview
    S.convs[c.id] = c;
    FOLDERS.forEach(function (f) {
      if (fromFolder) { if (f.id === fromFolder) S.member[f.id][c.id] = true; }
      else if (f.has(c)) S.member[f.id][c.id] = true;
      else delete S.member[f.id][c.id];
    });
  }
  function loadLists() {
    return Promise.all(FOLDERS.map(function (f) {
      return api('GET', '/api/conversations?folder=' + f.id).then(function (list) {
        S.member[f.id] = {};
        (list || []).forEach(function (c) { upsert(c, f.id); });
      });
    })).then(function () { renderFolders(); renderList(); });
  }
  // isUnread: a chat for me (waiting, or mine) I have not opened yet, or
  // one where the visitor wrote since I last looked.
  function isUnread(c) {
    if (!c || c.id === S.openId || c.status === 'resolved') return false;
    var seen = S.seen[c.id];
    if (!seen) return c.status === 'open' && (!c.assignee || (!!S.me && c.assignee === S.me.id));
    return !!c.last && c.last.from === 'visitor' && parseT(c.last.at) > parseT(seen);
  }
  function markSeen(id, at) {
    if (!id) return;
    var prev = S.seen[id];
    at = at || new Date().toISOString();
    if (prev && parseT(prev) >= parseT(at)) return;
    S.seen[id] = at;
    var keys = Object.keys(S.seen);
    if (keys.length > 500) keys.sort(function (a, b) { return parseT(S.seen[a]) - parseT(S.seen[b]); }).slice(0, keys.length - 500).forEach(function (k) { delete S.seen[k]; });
    setLS(seenKey(), S.seen);
  }
  function seenKey() { return 'pb-inbox:seen:' + (S.me ? S.me.id : ''); }

  // ---- folders ------------------------------------------------------------------
  var FOLDER_ICON = { unassigned: 'unassigned', mine: 'mine', open: 'open', snoozed: 'snoozed', missed: 'missed', closed: 'closed' };
  function renderFolders() {
    var ul = $('folder-list');
    if (!ul.firstChild) {
      FOLDERS.forEach(function (f) {
        var li = el('li');
        var a = el('a', 'folder');
        a.href = '#/' + f.id;
        a.id = 'folder-' + f.id;
        a.setAttribute('data-folder', f.id);
        a.setAttribute('data-short', f.short);
        a.appendChild(icon(FOLDER_ICON[f.id]));
        a.appendChild(el('span', 'folder-name', f.name));
        a.appendChild(el('span', 'count'));
        a.appendChild(el('span', 'sr-only count-text'));
        li.appendChild(a);
        ul.appendChild(li);
      });
    }
    var unreadTotal = 0;
    FOLDERS.forEach(function (f) {
      var a = $('folder-' + f.id), ids = Object.keys(S.member[f.id]), n = ids.length;
      var unread = ids.filter(function (id) { return isUnread(S.convs[id]); }).length;
      if (f.id === 'unassigned' || f.id === 'mine') unreadTotal += unread;
      a.href = '#/' + f.id + (S.openId ? '/' + encodeURIComponent(S.openId) : ''); // switching folders keeps the chat open
      var cnt = a.querySelector('.count');
      cnt.textContent = n > 199 ? '200+' : String(n);
      cnt.hidden = !n;
      cnt.classList.toggle('hot', (f.id === 'unassigned' || f.id === 'mine') && unread > 0);
      // The accessible name starts with what is seen (the name, the count).
      a.querySelector('.count-text').textContent = n ? ' conversation' + (n === 1 ? '' : 's') + (unread ? ', ' + unread + ' unread' : '') : ', no conversations';
      if (f.id === S.folder && !S.screen) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    D.title = (unreadTotal ? '(' + unreadTotal + ') ' : '') + 'Inbox · Playbook';
  }

  // ---- the list -------------------------------------------------------------------
  function matchesFilter(c) {
    var q = S.filter.trim().toLowerCase();
    if (!q) return true;
    var v = c.visitor || {};
    return [v.name, v.email, S.collected[c.id], c.team, c.assignee_name, (c.labels || []).join(' '), c.last && c.last.text].some(function (s) {
      return str(s).toLowerCase().indexOf(q) >= 0;
    });
  }
  function folderConvs(fid) {
    return Object.keys(S.member[fid]).map(function (id) { return S.convs[id]; }).filter(Boolean)
      .sort(function (a, b) { return parseT(b.updated_at) - parseT(a.updated_at) || (a.id < b.id ? -1 : 1); });
  }
  var listRaf = 0;
  function scheduleList() {
    if (listRaf) return;
    listRaf = requestAnimationFrame(function () { listRaf = 0; renderFolders(); renderList(); });
  }
  function renderList() {
    var ul = $('conv-list');
    var focusedId = D.activeElement && D.activeElement.classList && D.activeElement.classList.contains('item') ? D.activeElement.getAttribute('data-id') : '';
    var scroll = ul.scrollTop;
    clear(ul);
    var f = FOLDER[S.folder];
    $('list-title').textContent = f.name;
    var all = folderConvs(S.folder), list = all.filter(matchesFilter);
    $('list-count').textContent = all.length ? String(all.length) : '';
    list.forEach(function (c) { ul.appendChild(item(c)); });
    var empty = $('list-empty');
    empty.hidden = list.length > 0;
    ul.hidden = !list.length;
    if (!list.length) {
      clear(empty);
      var e = S.filter.trim() && all.length ? ['No matches', 'No conversation here matches “' + S.filter.trim() + '”.'] : EMPTY[S.folder];
      empty.appendChild(el('strong', '', e[0]));
      empty.appendChild(D.createTextNode(e[1]));
    }
    ul.scrollTop = scroll;
    if (focusedId) { var again = ul.querySelector('.item[data-id="' + CSS.escape(focusedId) + '"]'); if (again) again.focus({ preventScroll: true }); }
  }
  function lastPreview(c, box) {
    var ty = S.typingIn[c.id];
    if (ty && ty.until > Date.now() && ty.from === 'visitor') {
      box.classList.add('typing-now');
      box.textContent = 'typing…';
      return;
    }
    var l = c.last;
    if (!l) { box.textContent = c.visitor && c.visitor.page ? 'On ' + c.visitor.page : ''; return; }
    var who = '';
    if (l.from === 'agent') { // "You" only for my own messages; a colleague's name otherwise
      var own = l.agent ? !!S.me && l.agent === S.me.id : !!S.me && !!l.author && l.author === S.me.name;
      who = own ? 'You: ' : (l.author || 'Agent') + ': ';
    }
    else if (l.from === 'bot') who = 'Bot: ';
    else if (l.from === 'note') who = 'Note: ';
    if (who) box.appendChild(el('span', 'who', who));
    box.appendChild(D.createTextNode(str(l.text).replace(/\s+/g, ' ')));
  }
  function item(c) {
    var li = el('li');
    var a = el('a', 'item');
    a.href = '#/' + S.folder + '/' + encodeURIComponent(c.id);
    a.setAttribute('data-id', c.id);
    if (c.id === S.openId) a.setAttribute('aria-current', 'true');
    var unread = isUnread(c);
    if (unread) a.classList.add('unread');
    var name = visitorName(c);
    a.appendChild(avatarEl(name, '', c.visitor && (c.visitor.email || c.visitor.name) || c.id));
    a.appendChild(el('span', 'item-name', name));
    var tm = timeEl(c.last && c.last.at || c.updated_at);
    tm.className = 'item-time';
    a.appendChild(tm);
    var last = el('span', 'item-last');
    lastPreview(c, last);
    a.appendChild(last);
    var tags = el('span', 'item-tags');
    if (c.priority && c.priority !== 'normal') {
      var p = el('span', 'prio prio-' + c.priority, c.priority.charAt(0).toUpperCase() + c.priority.slice(1));
      p.title = 'Priority: ' + c.priority;
      tags.appendChild(p);
    }
    if (c.team) tags.appendChild(el('span', 'tag tag-team', c.team));
    if (c.status === 'open' && c.assignee_name && S.folder !== 'mine') tags.appendChild(el('span', 'tag', c.assignee === (S.me && S.me.id) ? 'You' : c.assignee_name));
    (c.labels || []).slice(0, 3).forEach(function (l) { tags.appendChild(el('span', 'tag tag-label', l)); });
    if ((c.labels || []).length > 3) tags.appendChild(el('span', 'tag', '+' + (c.labels.length - 3)));
    if (tags.firstChild) a.appendChild(tags);
    if (unread) {
      var dot = el('span', 'unread-dot');
      dot.appendChild(el('span', 'sr-only', 'Unread'));
      a.appendChild(dot);
      dot.setAttribute('aria-label', 'unread');
    }
    a.addEventListener('click', function () { S.focusComposer = true; });
    li.appendChild(a);
    return li;
  }
  function listKeys(ev) {
    var it = ev.target.closest && ev.target.closest('.item');
    if (!it) return;
    var items = Array.prototype.slice.call($('conv-list').querySelectorAll('.item'));
    var i = items.indexOf(it), j = -1;
    if (ev.key === 'ArrowDown') j = Math.min(items.length - 1, i + 1);
    else if (ev.key === 'ArrowUp') j = Math.max(0, i - 1);
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = items.length - 1;
    if (j < 0) return;
    ev.preventDefault();
    items[j].focus();
  }

  // ---- routing -----------------------------------------------------------------------
  function go(folder, id, focusComposer) {
    S.focusComposer = !!focusComposer;
    var h = '#/' + (folder || S.folder) + (id ? '/' + encodeURIComponent(id) : '');
    if (location.hash === h) route(); else location.hash = h;
  }
  function route() {
    if (!S.me) return;
    var m = /^#\/([a-z]+)(?:\/(.+))?$/.exec(location.hash || '');
    var sc = m && SCREENS[m[1]];
    S.screen = sc ? m[1] : '';
    $('app').classList.toggle('on-screen', !!sc);
    $('screen').hidden = !sc;
    if (sc) { renderFolders(); sc.show(m[2] ? decodeURIComponent(m[2]) : ''); return; }
    var folder = m && FOLDER[m[1]] ? m[1] : 'unassigned';
    var id = m && m[2] ? decodeURIComponent(m[2]) : '';
    if (folder !== S.folder) { S.folder = folder; S.filter = ''; $('filter').value = ''; renderFolders(); }
    if (id !== S.openId) openConversation(id);
    renderFolders();
    renderList();
    $('app').classList.toggle('viewing', !!id);
  }

  // ---- other screens ---------------------------------------------------------------------
  // Scripts loaded after this one (crm.js) add screens with
  // PBInbox.screen(name, {show(arg)}): #/NAME/ARG shows one
  // in #screen instead of the list and the conversation. They get the
  // helpers below; nothing else of this file.
  var SCREENS = {};
  W.PBInbox = {
    screen: function (name, sc) { SCREENS[name] = sc; },
    api: api, el: el, clear: clear, icon: icon, svg: svg, screenFrame: screenFrame, screenError: screenError, avatarEl: avatarEl, timeEl: timeEl, full: full, str: str,
    fmtValue: fmtValue, toast: toast, fail: fail, ask: ask, kv: kv, newID: newID,
    me: function () { return S.me; }, agents: function () { return S.agents; },
    openId: function () { return S.openId; }, csrf: function () { return S.csrf; }, composerError: composerError
  };

  // ---- the conversation view -------------------------------------------------------------
  function openConversation(id) {
    saveDraft();
    typingOff();
    closePicker();
    S.openId = id;
    S.viewToken++;
    S.entries = []; S.byId = {}; S.deleted = {}; S.pending = {}; S.lastRendered = null; S.detail = null; S.crm = null;
    clear($('timeline'));
    $('typing').hidden = true;
    if (!id) {
      $('conv').hidden = true;
      $('view-empty').hidden = false;
      $('details').hidden = true;
      syncDetailsToggle();
      return;
    }
    $('view-empty').hidden = true;
    $('conv').hidden = false;
    var c = S.convs[id];
    if (c) { renderHead(c); markSeen(id, c.last && c.last.at); }
    else renderHead({ id: id, visitor: {}, status: '' });
    restoreDraft();
    var token = S.viewToken;
    S.loadingView = true;
    var tl = $('timeline');
    tl.setAttribute('aria-busy', 'true');
    var spin = el('div', 'boot-inline');
    spin.appendChild(el('span', 'spinner'));
    tl.appendChild(spin);
    Promise.all([api('GET', convPath(id)), api('GET', convPath(id, '/transcript'))]).then(function (r) {
      if (token !== S.viewToken) return;
      S.loadingView = false;
      tl.removeAttribute('aria-busy');
      clear(tl);
      S.detail = r[0] || {};
      noteCollected(id, S.detail);
      if (S.detail.conversation) upsert(S.detail.conversation);
      (S.detail.previous || []).forEach(function (p) { if (p && p.id && !S.convs[p.id]) S.convs[p.id] = p; });
      addEntries(r[1] || [], false);
      var cc = S.convs[id] || S.detail.conversation;
      if (cc) { renderHead(cc); markSeen(id, cc.last && cc.last.at); }
      renderDetails();
      loadCRM(id);
      scrollBottom(true);
      follow();
      scheduleList();
      if (S.focusComposer) { S.focusComposer = false; if (!$('composer-input').disabled) $('composer-input').focus(); }
    }, function (err) {
      if (token !== S.viewToken) return;
      S.loadingView = false;
      tl.removeAttribute('aria-busy');
      clear(tl);
      var msg = err.status === 404 ? 'This conversation does not exist any more.' : err.status === 403 ? 'This conversation belongs to another team.' : err.message;
      var sys = el('div', 'sys sys-error');
      sys.appendChild(el('span', '', msg));
      tl.appendChild(sys);
    });
  }
  function noteCollected(id, d) {
    var e = d && d.vars && d.vars.email;
    if (typeof e === 'string' && /^[^\s@]+@[^\s@]+$/.test(e)) S.collected[id] = e;
  }
  function lastEntryID() {
    for (var i = S.entries.length - 1; i >= 0; i--) if (S.entries[i].id) return S.entries[i].id;
    return '';
  }
  function follow() {
    if (!S.openId || S.loadingView) return;
    wsSend({ type: 'follow', conversation: S.openId, after: lastEntryID() });
  }

  function renderHead(c) {
    var name = visitorName(c);
    $('conv-title').textContent = name;
    avatar($('conv-avatar'), name, c.visitor && (c.visitor.email || c.visitor.name) || c.id);
    var sub = clear($('conv-sub'));
    var st = c.status || '';
    var label = st === 'bot' && ended() ? 'Ended' : { open: 'Open', snoozed: 'Snoozed', resolved: 'Resolved', missed: 'Missed', bot: 'With the bot' }[st] || st;
    if (label) sub.appendChild(el('span', 'status-pill st-' + (label === 'Ended' ? 'resolved' : st), label));
    function part(t, extra) {
      if (!t) return;
      if (sub.firstChild) { var s = el('span', 'sep', '·'); s.setAttribute('aria-hidden', 'true'); if (extra) s.classList.add('sub-extra'); sub.appendChild(s); }
      sub.appendChild(el('span', extra ? 'sub-extra' : '', t));
    }
    if (c.visitor && c.visitor.email && c.visitor.email !== name) part(c.visitor.email, true);
    if (c.team) part('Team ' + c.team, true);
    if (c.visitor && c.visitor.page) part(c.visitor.page, true);

    var mine = S.me && c.assignee === S.me.id;
    var closed = st === 'resolved';
    var q = function (a) { return $('conv').querySelector('[data-action="' + a + '"]'); };
    var ab = q('assignee');
    var al = ab.querySelector('.assignee-label');
    al.textContent = c.assignee ? (mine ? 'You' : c.assignee_name || 'Someone') : 'Unassigned';
    // The accessible name is the visible text and a hidden ". Reassign"
    // (an aria-label that differs fails axe's label-content-name-mismatch).
    ab.removeAttribute('aria-label');
    ab.title = 'Reassign';
    var av = ab.querySelector('.avatar');
    if (c.assignee) { av.hidden = false; avatar(av, c.assignee_name || '?', c.assignee_name); } else av.hidden = true;
    ab.querySelector('.no-assignee').style.display = c.assignee ? 'none' : '';
    var live = st === 'open' || st === 'snoozed'; // bot: nobody to assign or resolve yet
    ab.disabled = !live;
    q('snooze').disabled = st !== 'open';
    q('resolve').disabled = !live && st !== 'missed'; // a missed chat is resolved once followed up
    q('unassign').setAttribute('aria-disabled', String(!c.assignee || !live));
    q('transfer').setAttribute('aria-disabled', String(!live));
    q('handback').setAttribute('aria-disabled', String(!live));
    var dl = $('download-link');
    dl.href = convPath(c.id, '/transcript?format=txt');
    dl.setAttribute('download', 'transcript-' + name.replace(/[^\w.@-]+/g, '-').slice(0, 40) + '-' + str(c.started_at).slice(0, 10) + '.txt');
    renderBanner(c);
    composerState(c);
  }
  // ended: the open conversation's bot session is over.
  function ended() { return !!S.detail && (S.detail.session_status === 'ended' || S.detail.session_status === 'failed'); }
  function renderBanner(c) {
    var b = $('conv-banner'), t = clear($('banner-text'));
    var mine = S.me && c.assignee === S.me.id;
    var cls = '', txt = '';
    if (c.status === 'open' && !c.assignee) {
      cls = 'info';
      t.appendChild(D.createTextNode('Waiting in the '));
      t.appendChild(el('b', '', c.team || 'team'));
      t.appendChild(D.createTextNode(' queue since '));
      var tm = timeEl(c.started_at);
      t.appendChild(tm);
      t.appendChild(D.createTextNode(tm.textContent === 'now' ? '.' : ' ago.'));
    } else if (c.status === 'open' && c.assignee && !mine) { cls = 'info'; txt = (c.assignee_name || 'Another agent') + ' is handling this chat.'; }
    else if (c.status === 'snoozed') { cls = 'warn'; txt = c.snoozed_until_reply || !c.snoozed_until ? 'Snoozed until the visitor replies.' : 'Snoozed until ' + full(c.snoozed_until) + '.'; }
    else if (c.status === 'resolved') { cls = 'done'; txt = 'Resolved. The visitor was offered a rating and the transcript by email.'; }
    else if (c.status === 'missed') { cls = 'warn'; txt = 'Missed: nobody took this chat in time, so the bot took over' + (S.detail && S.detail.outcome ? ' (' + S.detail.outcome + ')' : '') + '. Follow up, then resolve it.'; }
    else if (c.status === 'bot' && ended()) { cls = 'done'; txt = 'The bot ended this conversation' + (S.detail.outcome ? ' (' + S.detail.outcome + ')' : '') + '.'; }
    else if (c.status === 'bot') { cls = 'info'; txt = 'The bot is talking with this visitor' + (S.detail && S.detail.card ? ' (card ' + S.detail.card + ')' : '') + '.'; }
    if (txt) t.textContent = txt;
    b.className = 'conv-banner ' + cls;
    b.hidden = !cls;
    b.querySelector('[data-action="assign-me"]').hidden = !!c.assignee || c.status === 'resolved' || c.status === 'bot' || !c.status;
    // The team reopens chats (its reopen policy): the details say so.
    b.querySelector('[data-action="reopen"]').hidden = !(c.status === 'resolved' && S.detail && S.detail.conversation && S.detail.conversation.id === c.id && S.detail.reopen);
  }
  // ---- entries ------------------------------------------------------------------------------
  function addEntries(list, live) {
    var rerender = false, appended = [];
    list.forEach(function (e) {
      if (!e || !e.id || S.byId[e.id]) return;
      S.byId[e.id] = e;
      if (e.kind === 'deleted') {
        var target = e.data && e.data.target;
        if (target) { S.deleted[target] = true; if (S.byId[target]) { rerender = true; } }
      }
      if (e.client_id && S.pending[e.client_id]) { // my own message came back
        var p = S.pending[e.client_id];
        if (p.node && p.node.parentNode) p.node.parentNode.removeChild(p.node);
        delete S.pending[e.client_id];
        rerender = true;
      }
      var n = S.entries.length;
      if (!n || cmpID(S.entries[n - 1].id, e.id) < 0) { S.entries.push(e); appended.push(e); }
      else {
        var i = n;
        while (i > 0 && cmpID(S.entries[i - 1].id, e.id) > 0) i--;
        S.entries.splice(i, 0, e);
        rerender = true;
      }
      if (live && S.openId) {
        var c = S.convs[S.openId];
        if (c && (e.kind === 'message' || e.kind === 'note') && (!c.last || parseT(e.at) >= parseT(c.last.at))) {
          c.last = { from: e.kind === 'note' ? 'note' : e.from, text: e.text, at: e.at, author: e.author };
          if (parseT(e.at) > parseT(c.updated_at)) c.updated_at = e.at;
          markSeen(S.openId, e.at);
          scheduleList();
        }
        if (e.from === 'visitor') setTypingIn(S.openId, { from: 'visitor', on: false });
        if (e.kind === 'record' || e.kind === 'resolved' || e.kind === 'reopened') refreshDetails();
      }
    });
    if (rerender) renderTimeline();
    else if (appended.length) {
      var stick = nearBottom();
      appended.forEach(function (e) { renderEntry(e, live); });
      movePendingToEnd();
      if (stick || !live) scrollBottom(!live);
    }
  }
  function nearBottom() { var t = $('timeline'); return t.scrollHeight - t.scrollTop - t.clientHeight < 120; }
  function scrollBottom(instant) {
    var t = $('timeline');
    if (instant) { t.style.scrollBehavior = 'auto'; t.scrollTop = t.scrollHeight; t.style.scrollBehavior = ''; }
    else t.scrollTop = t.scrollHeight;
  }
  function renderTimeline() {
    var t = $('timeline'), keep = t.scrollTop, stick = nearBottom();
    clear(t);
    S.lastRendered = null;
    S.entries.forEach(function (e) { renderEntry(e, false); });
    movePendingToEnd();
    if (stick) scrollBottom(true); else t.scrollTop = keep;
  }
  function movePendingToEnd() {
    var t = $('timeline');
    Object.keys(S.pending).forEach(function (k) { var p = S.pending[k]; if (p.node) t.appendChild(p.node); });
  }
  function agentName(author) {
    if (!author) return 'Agent';
    for (var i = 0; i < S.agents.length; i++) if (S.agents[i].id === author) return S.agents[i].name;
    return author;
  }
  function isMe(author) { return !!S.me && (author === S.me.name || author === S.me.id); }
  function senderKey(e) {
    if (e.kind === 'note') return 'note:' + e.author;
    return e.from + ':' + (e.from === 'agent' ? e.author : '');
  }
  function renderEntry(e, live) {
    var t = $('timeline');
    var prev = S.lastRendered;
    var at = parseT(e.at);
    if (e.kind === 'deleted') return;
    if (at && (!prev || new Date(parseT(prev.at)).toDateString() !== new Date(at).toDateString())) {
      var d = el('div', 'day');
      d.appendChild(el('span', '', dayLabel(at)));
      t.appendChild(d);
      prev = null;
    }
    var node;
    if (e.kind === 'message' || e.kind === 'note' || e.kind === 'file' || !e.kind) node = messageNode(e, prev);
    else node = systemNode(e);
    if (!node) return;
    node.setAttribute('data-entry', e.id);
    t.appendChild(node);
    S.lastRendered = node.classList.contains('msg') ? e : { at: e.at };
  }
  function messageNode(e, prev) {
    var from = e.kind === 'note' ? 'note' : e.from;
    var out = from !== 'visitor';
    var n = el('div', 'msg ' + (out ? 'out ' : 'in ') + from);
    var c = S.convs[S.openId] || {};
    var deleted = !!S.deleted[e.id];
    if (deleted) n.classList.add('deleted');
    if (prev && prev.kind && senderKey(prev) === senderKey(e) && parseT(e.at) - parseT(prev.at) < 5 * 60 * 1000) n.classList.add('cont');
    var name = from === 'visitor' ? visitorName(c) : from === 'bot' ? (e.author || 'Bot') : agentName(e.author);
    n.appendChild(avatarEl(from === 'bot' ? name : name, '', from === 'visitor' ? (c.visitor && (c.visitor.email || c.visitor.name)) || c.id : name));
    var body = el('div', 'msg-body');
    var meta = el('div', 'msg-meta');
    if (from === 'note') {
      var lock = el('span', 'lock');
      lock.appendChild(icon('lock', 'i-sm'));
      lock.appendChild(D.createTextNode('Private note'));
      meta.appendChild(lock);
      meta.appendChild(D.createTextNode('·'));
    }
    meta.appendChild(el('b', '', (from === 'agent' || from === 'note') && isMe(e.author) ? 'You' : name));
    if (from === 'bot') meta.appendChild(el('span', 'bot-tag', 'Bot'));
    meta.appendChild(timeEl(e.at, 'clock'));
    body.appendChild(meta);
    // A file (files.js): a thumbnail that opens the image, or a link.
    var b = e.kind === 'file' && !deleted && W.PBFiles ? W.PBFiles.body(e, S.openId) : el('div', 'bubble');
    if (deleted) b.textContent = 'Message deleted';
    else if (e.kind === 'file') { /* built by files.js */ }
    else if (from === 'agent' || from === 'note') rich(b, e.text, from === 'note');
    else linkify(b, e.text);
    if (from === 'note') b.setAttribute('aria-label', 'Private note: ' + str(e.text));
    body.appendChild(b);
    if (!deleted && from === 'bot') {
      var img = e.image ? safeHref(e.image) : '';
      if (img && /^https?:/.test(img)) { var im = el('img', 'msg-img'); im.alt = ''; im.loading = 'lazy'; im.src = img; body.appendChild(im); }
      if (Array.isArray(e.links) && e.links.length) {
        var lk = el('div', 'msg-links');
        e.links.forEach(function (l) { var h = l && safeHref(l.url); if (h) lk.appendChild(link(h, l.label || l.url)); });
        if (lk.firstChild) body.appendChild(lk);
      }
      if (Array.isArray(e.buttons) && e.buttons.length) {
        var chips = el('div', 'chips');
        chips.setAttribute('aria-label', 'Buttons offered');
        e.buttons.forEach(function (x) { if (x && x.label != null) chips.appendChild(el('span', 'chip', x.label)); });
        body.appendChild(chips);
      }
    }
    n.appendChild(body);
    if (!deleted && e.kind !== 'file' && (from === 'agent' || from === 'note') && (isMe(e.author) || (S.me && S.me.role === 'admin'))) {
      var del = el('button', 'icon-btn msg-del');
      del.type = 'button';
      del.setAttribute('aria-label', from === 'note' ? 'Delete this note' : 'Delete this message');
      del.title = 'Delete for everyone';
      del.appendChild(icon('trash', 'i-sm'));
      del.addEventListener('click', function () { deleteMessage(e); });
      n.appendChild(del);
    }
    return n;
  }
  function sys(text, cls, boldParts) {
    var n = el('div', 'sys' + (cls ? ' ' + cls : ''));
    var s = el('span');
    if (boldParts) boldParts.forEach(function (p) { s.appendChild(p[1] ? el('b', '', p[0]) : D.createTextNode(p[0])); });
    else s.textContent = text;
    n.appendChild(s);
    return n;
  }
  var OUTCOMES = { qualified: 'qualified', disqualified: 'disqualified', nurture: 'nurture', abandoned: 'abandoned' };
  function systemNode(e) {
    var d = e.data || {}, who = e.author ? agentName(e.author) : '';
    var at = timeEl(e.at, 'clock');
    var n;
    switch (e.kind) {
      case 'handoff': n = sys('', '', [['Handed over to the '], [d.team || 'team', 1], [' team']]); break;
      case 'away': n = sys('', '', [['The '], [d.team || 'team', 1], [' team was away: the bot took a message']]); break;
      case 'joined': n = sys('', '', [[who || 'An agent', 1], [' joined']]); break;
      case 'left': n = sys('', '', [[who || 'The agent', 1], [' left']]); break;
      case 'resolved': n = sys('', '', who ? [['Resolved by '], [who, 1]] : [['Resolved']]); break;
      case 'reopened': n = sys('', '', [[who || 'Someone', 1], [' reopened the conversation']]); break;
      case 'end': n = sys('', '', [['The bot ended the conversation'], d.outcome ? [': ' + (OUTCOMES[d.outcome] || d.outcome)] : ['']]); break;
      case 'variant': n = sys('', '', [['A/B test '], [str(d.experiment || ''), 1], [': variant '], [str(d.variant || '?'), 1]]); break;
      case 'record': n = sys('', 'sys-record', [['Created a '], [str(d.kind || 'record'), 1], [recordTitle(d) ? ': ' + recordTitle(d) : '']]); break;
      case 'error': n = sys(e.text || 'The bot stopped with an error.', 'sys-error'); break;
      case 'snoozed': n = sys('', '', [['Snoozed'], who ? [' by ' + who] : ['']]); break;
      case 'transfer': case 'transferred': n = sys('', '', [['Transferred to '], [d.team || 'another team', 1]]); break;
      case 'rating': n = sys('', '', [['The visitor rated the chat '], [(d.score || '?') + '/5', 1]]); break;
      default: n = sys(e.text || e.kind, '');
    }
    n.firstChild.appendChild(D.createTextNode(' · '));
    n.firstChild.appendChild(at);
    return n;
  }
  function recordTitle(r) {
    var f = (r && (r.fields || r)) || {};
    return str(f.title || f.subject || f.name || f.email || (r && r.key) || '');
  }
  function deleteMessage(e) {
    var conv = S.openId;
    ask({
      title: e.kind === 'note' ? 'Delete this note?' : 'Delete this message?',
      text: e.kind === 'note' ? 'Your team will see “Message deleted” in its place.' : 'The visitor and your team will see “Message deleted” in its place.',
      ok: 'Delete', danger: true,
      submit: function () {
        return api('DELETE', convPath(conv, '/messages/' + encodeURIComponent(e.id))).then(function (d) {
          if (d && d.id && conv === S.openId) addEntries([d], true);
        });
      }
    });
  }

  // ---- typing, both ways ------------------------------------------------------------
  function setTypingIn(conv, f) {
    if (!conv) return;
    if (f.on) S.typingIn[conv] = { from: f.from || 'visitor', name: f.name || f.author || '', until: Date.now() + 30000 };
    else delete S.typingIn[conv];
    if (conv === S.openId) showTyping();
    var c = S.convs[conv];
    if (c && (f.from || 'visitor') === 'visitor') scheduleList();
  }
  function showTyping() {
    var ty = S.typingIn[S.openId];
    var box = $('typing');
    if (!ty || ty.until < Date.now()) { box.hidden = true; return; }
    var c = S.convs[S.openId];
    $('typing-text').textContent = ty.from === 'visitor' ? visitorName(c) + ' is typing…' : (ty.name ? agentName(ty.name) : 'A teammate') + ' is typing…';
    var stick = nearBottom();
    box.hidden = false;
    if (stick) scrollBottom(false);
  }
  function typingInput() {
    if (S.mode !== 'reply' || !S.openId) return;
    var my = S.myTyping, now = Date.now();
    if (!$('composer-input').value.trim()) { typingOff(); return; }
    if (!my.on || my.conv !== S.openId || now - my.sent > 5000) {
      my.on = true; my.conv = S.openId; my.sent = now;
      api('POST', convPath(S.openId, '/typing'), { on: true }).catch(function () { /* best effort */ });
    }
    clearTimeout(my.timer);
    my.timer = setTimeout(typingOff, 3000);
  }
  function typingOff() {
    var my = S.myTyping;
    clearTimeout(my.timer);
    if (!my.on) return;
    my.on = false;
    api('POST', convPath(my.conv, '/typing'), { on: false }).catch(function () { /* best effort */ });
  }

  // ---- the composer ------------------------------------------------------------------------
  function setMode(mode, focus) {
    S.mode = mode;
    var reply = mode === 'reply';
    $('tab-reply').setAttribute('aria-selected', String(reply));
    $('tab-note').setAttribute('aria-selected', String(!reply));
    $('tab-reply').tabIndex = reply ? 0 : -1;
    $('tab-note').tabIndex = reply ? -1 : 0;
    $('composer').classList.toggle('note-mode', !reply);
    var ta = $('composer-input');
    ta.setAttribute('aria-label', reply ? 'Reply to the visitor' : 'Private note, only agents see it');
    if (!reply) typingOff();
    composerState(S.convs[S.openId] || {});
    $('send-btn').textContent = reply ? 'Send' : 'Add note';
    closePicker();
    if (focus && !ta.disabled) ta.focus();
  }
  function composerState(c) {
    var ta = $('composer-input'), reply = S.mode === 'reply';
    var why = '';
    var other = c.status === 'open' && c.assignee && S.me && c.assignee !== S.me.id;
    if (reply && c.status === 'resolved') why = 'This conversation is resolved. You can still add a private note.';
    else if (reply && other) why = (c.assignee_name || 'Another agent') + ' has this chat. Ask them to reassign it to you, or add a private note.';
    else if (reply && c.status === 'bot') why = ended() ? 'This conversation has ended. You can still add a private note.' : 'The bot is talking with this visitor. You can add a private note.';
    ta.disabled = !!why;
    $('composer').classList.toggle('disabled', !!why);
    ta.placeholder = why || (reply ? 'Write a reply…  Type / for canned responses' : 'Add a private note…  Type @ to mention a teammate');
    $('composer-hint').textContent = !reply ? 'Only your team sees notes. The visitor never does.' :
      c.status === 'open' && !c.assignee ? 'Replying assigns this chat to you · Enter sends' :
        'Enter sends · Shift+Enter adds a line · **bold** *italic*';
    updateSend();
  }
  function updateSend() {
    var ta = $('composer-input');
    $('send-btn').disabled = ta.disabled || !ta.value.trim();
  }
  function autosize() {
    var ta = $('composer-input');
    ta.style.height = 'auto';
    ta.style.height = Math.min(220, ta.scrollHeight) + 'px';
  }
  function saveDraft() {
    if (!S.openId) return;
    var v = $('composer-input').value;
    if (v) S.drafts[S.openId] = { text: v, mode: S.mode }; else delete S.drafts[S.openId];
  }
  function restoreDraft() {
    var d = S.drafts[S.openId];
    $('composer-input').value = d ? d.text : '';
    setMode(d ? d.mode : 'reply', false);
    autosize();
    composerError('');
  }
  function composerError(msg) { var n = $('composer-error'); n.textContent = msg; n.hidden = !msg; $('composer-hint').hidden = !!msg; }
  function send() {
    var ta = $('composer-input'), text = ta.value.replace(/\s+$/, '').replace(/^\s*\n/, '');
    if (!text.trim() || !S.openId || ta.disabled) return;
    if (text.length > 4000) { composerError('That is too long: 4,000 characters at most.'); return; }
    composerError('');
    var conv = S.openId;
    ta.value = '';
    autosize();
    delete S.drafts[conv];
    updateSend();
    if (S.mode === 'note') {
      api('POST', convPath(conv, '/notes'), { text: text }).then(function (e) {
        if (e && e.id && conv === S.openId) addEntries([e], true);
      }, function (err) {
        if (conv === S.openId && !ta.value) { ta.value = text; autosize(); updateSend(); }
        fail('Couldn’t add the note')(err);
      });
      return;
    }
    typingOff();
    var cc = S.convs[conv];
    if (cc && !cc.assignee) S.selfAssign[conv] = Date.now();
    var cid = newID();
    var p = { text: text, conv: conv };
    S.pending[cid] = p;
    p.node = pendingNode(cid, text, 'pending');
    $('timeline').appendChild(p.node);
    scrollBottom(false);
    post(cid);
  }
  function post(cid) {
    var p = S.pending[cid];
    if (!p) return;
    api('POST', convPath(p.conv, '/messages'), { text: p.text, client_id: cid }).then(function (e) {
      if (!S.pending[cid]) return; // the websocket brought it already
      if (p.node && p.node.parentNode) p.node.parentNode.removeChild(p.node);
      delete S.pending[cid];
      if (e && e.id && p.conv === S.openId) { if (!e.client_id) e.client_id = cid; addEntries([e], true); }
    }, function (err) {
      if (!S.pending[cid]) return;
      var n = pendingNode(cid, p.text, 'failed', err.message);
      if (p.node && p.node.parentNode) p.node.parentNode.replaceChild(n, p.node);
      p.node = n;
    });
  }
  function pendingNode(cid, text, state, why) {
    var n = el('div', 'msg out agent ' + state);
    n.appendChild(avatarEl(S.me.name, '', S.me.name));
    var body = el('div', 'msg-body');
    var meta = el('div', 'msg-meta');
    meta.appendChild(el('b', '', 'You'));
    body.appendChild(meta);
    var b = el('div', 'bubble');
    rich(b, text);
    body.appendChild(b);
    var st = el('div', 'msg-status');
    if (state === 'failed') {
      st.appendChild(D.createTextNode('Not sent' + (why ? ' (' + why + ')' : '') + '. '));
      var r = el('button', '', 'Retry');
      r.type = 'button';
      r.addEventListener('click', function () {
        var p = S.pending[cid];
        if (!p) return;
        var m = pendingNode(cid, p.text, 'pending');
        n.parentNode.replaceChild(m, n);
        p.node = m;
        post(cid);
      });
      st.appendChild(r);
    } else st.textContent = 'Sending…';
    body.appendChild(st);
    n.appendChild(body);
    return n;
  }

  // ---- the / and @ picker --------------------------------------------------------------
  var P = { open: false, items: [], sel: 0, start: 0, end: 0, kind: '' };
  function trigger() {
    var ta = $('composer-input'), caret = ta.selectionStart;
    if (caret !== ta.selectionEnd) return null;
    var before = ta.value.slice(0, caret);
    var m = /(^|\s)([\/@])([\p{L}\p{N}_.-]{0,40})$/u.exec(before);
    if (!m) return null;
    if (m[2] === '@' && S.mode !== 'note') return null;
    return { kind: m[2], q: m[3], start: caret - m[3].length - 1, end: caret };
  }
  function updatePicker() {
    var tr = trigger();
    if (!tr) { closePicker(); return; }
    var q = tr.q.toLowerCase(), items = [];
    if (tr.kind === '/') {
      if (S.canned === null) { loadCanned().then(function () { if (trigger()) updatePicker(); }); }
      var list = S.canned || [];
      var starts = list.filter(function (c) { return str(c.short).toLowerCase().indexOf(q) === 0; });
      var has = list.filter(function (c) { var s = str(c.short).toLowerCase(); return s.indexOf(q) > 0; });
      items = starts.concat(has).slice(0, 8).map(function (c) { return { key: '/' + c.short, text: c.text, insert: c.text }; });
    } else {
      items = S.agents.filter(function (a) {
        if (S.me && a.id === S.me.id) return false;
        var full = str(a.name).toLowerCase().replace(/\s+/g, '');
        return !q || full.indexOf(q) === 0 || str(a.name).toLowerCase().split(/\s+/).some(function (w) { return w.indexOf(q) === 0; }) || str(a.email).toLowerCase().indexOf(q) === 0;
      }).slice(0, 8).map(function (a) { return { key: a.name, text: a.email, insert: '@' + str(a.name).replace(/\s+/g, '') + ' ', agent: a }; });
    }
    P.open = true; P.items = items; P.kind = tr.kind; P.start = tr.start; P.end = tr.end;
    if (P.sel >= items.length) P.sel = 0;
    renderPicker();
  }
  function renderPicker() {
    var ul = clear($('picker')), ta = $('composer-input');
    ul.hidden = false;
    ul.setAttribute('aria-label', P.kind === '/' ? 'Canned responses' : 'Teammates');
    if (!P.items.length) {
      var li = el('li', 'p-empty', P.kind === '/' ? ((S.canned || []).length ? 'No canned response starts with that.' : 'No canned responses yet: add them in Settings.') : (trigger() && trigger().q ? 'No teammate by that name.' : 'No other teammates yet.'));
      li.setAttribute('role', 'option');
      li.setAttribute('aria-disabled', 'true');
      ul.appendChild(li);
      ta.removeAttribute('aria-activedescendant');
      return;
    }
    P.items.forEach(function (it, i) {
      var li = el('li');
      li.id = 'pick-' + i;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === P.sel));
      if (it.agent) {
        var av = avatarEl(it.agent.name, 'avatar-xs', it.agent.name);
        li.appendChild(av);
      }
      li.appendChild(el('span', 'p-key', it.key));
      li.appendChild(el('span', 'p-text', str(it.text).replace(/\s+/g, ' ')));
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); P.sel = i; pick(); });
      ul.appendChild(li);
    });
    ta.setAttribute('aria-activedescendant', 'pick-' + P.sel);
    var cur = $('pick-' + P.sel);
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: 'nearest' });
  }
  function closePicker() {
    P.open = false; P.items = []; P.sel = 0;
    var ul = $('picker');
    if (ul) { ul.hidden = true; clear(ul); }
    var ta = $('composer-input');
    if (ta) ta.removeAttribute('aria-activedescendant');
  }
  function pick() {
    var it = P.items[P.sel];
    if (!it) return;
    var ta = $('composer-input');
    var v = ta.value;
    ta.value = v.slice(0, P.start) + it.insert + v.slice(P.end);
    var caret = P.start + it.insert.length;
    ta.setSelectionRange(caret, caret);
    closePicker();
    autosize();
    updateSend();
    ta.focus();
  }
  function composerKeys(ev) {
    if (ev.key === 'Enter') S.enterShift = ev.shiftKey;
    if (P.open) {
      var n = P.items.length;
      if (ev.key === 'ArrowDown' && n) { ev.preventDefault(); P.sel = (P.sel + 1) % n; renderPicker(); return; }
      if (ev.key === 'ArrowUp' && n) { ev.preventDefault(); P.sel = (P.sel - 1 + n) % n; renderPicker(); return; }
      if ((ev.key === 'Enter' || ev.key === 'Tab') && n && !ev.shiftKey) { ev.preventDefault(); pick(); return; }
      if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); closePicker(); return; }
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      send();
    }
  }

  // ---- header actions ----------------------------------------------------------------------
  function act(what, path, body, after) {
    var id = S.openId;
    return api('POST', convPath(id, path), body).then(function (c) {
      if (c && c.id) { upsert(c); if (c.id === S.openId) { renderHead(c); renderDetails(); } scheduleList(); }
      if (after) after(c);
      return c;
    }, function (err) { fail(what)(err); throw err; });
  }
  function assignTo(agentId) {
    if (!agentId || (S.me && agentId === S.me.id)) S.selfAssign[S.openId] = Date.now();
    return act(agentId ? 'Couldn’t reassign' : 'Couldn’t assign the chat to you', '/assign', { agent: agentId || '' }, function () {
      if (!agentId) { $('composer-input').focus(); }
      else { var a = S.agents.filter(function (x) { return x.id === agentId; })[0]; toast({ title: 'Reassigned', text: 'Assigned to ' + (a ? a.name : 'a teammate') + '.', ms: 4000 }); }
    }).catch(function () { /* shown */ });
  }
  function loadAgents() {
    return api('GET', '/api/agents').then(function (list) { S.agents = Array.isArray(list) ? list : []; renderTeam(); return S.agents; });
  }
  // renderTeam lists the teammates who share a team with me, online first.
  var PRESENCE_ORDER = { online: 0, away: 1, offline: 2 };
  function renderTeam() {
    var ul = clear($('team-list'));
    var mine = (S.me && S.me.teams) || [];
    var list = S.agents.filter(function (a) {
      return S.me && a.id !== S.me.id && (S.me.role === 'admin' || (a.teams || []).some(function (t) { return mine.indexOf(t) >= 0; }));
    }).sort(function (a, b) {
      return (PRESENCE_ORDER[a.presence] || 2) - (PRESENCE_ORDER[b.presence] || 2) || str(a.name).localeCompare(str(b.name));
    }).slice(0, 8);
    ul.parentNode.hidden = !list.length;
    list.forEach(function (a) {
      var li = el('li');
      var av = avatarEl(a.name, '', a.name);
      var dot = el('span', 'pdot');
      dot.setAttribute('data-presence', a.presence || 'offline');
      av.appendChild(dot);
      li.appendChild(av);
      li.appendChild(el('span', 't-name', a.name));
      if (a.open) { var o = el('span', 't-open', String(a.open)); o.title = a.open + ' open chat' + (a.open === 1 ? '' : 's'); li.appendChild(o); }
      li.setAttribute('aria-label', a.name + ', ' + (a.presence || 'offline') + (a.open ? ', ' + a.open + ' open chats' : ''));
      ul.appendChild(li);
    });
  }
  function fillAgentMenu(menu) {
    clear(menu);
    var c = S.convs[S.openId] || {};
    var loading = el('li', 'menu-label', 'Loading teammates…');
    loading.setAttribute('role', 'none');
    menu.appendChild(loading);
    return loadAgents().catch(function () { return S.agents; }).then(function (agents) {
      clear(menu);
      var team = agents.filter(function (a) { return !c.team || (a.teams || []).indexOf(c.team) >= 0 || a.role === 'admin'; });
      var others = agents.filter(function (a) { return team.indexOf(a) < 0; });
      function section(label, list) {
        if (!list.length) return;
        var h = el('li', 'menu-label', label);
        h.setAttribute('role', 'none');
        menu.appendChild(h);
        list.forEach(function (a) {
          var li = el('li');
          li.setAttribute('role', 'none');
          var b = el('button');
          b.type = 'button';
          b.setAttribute('role', 'menuitem');
          b.setAttribute('data-agent', a.id);
          var av = avatarEl(a.name, 'avatar-xs', a.name);
          var dot = el('span', 'pdot');
          dot.setAttribute('data-presence', a.presence || 'offline');
          av.appendChild(dot);
          b.appendChild(av);
          var nm = el('span', 'agent-name', (S.me && a.id === S.me.id) ? a.name + ' (you)' : a.name);
          b.appendChild(nm);
          // The server gives a chat only to an agent of its team who is
          // online (or takes it for yourself): the others are shown, disabled,
          // with the reason.
          var self = S.me && a.id === S.me.id;
          var why = a.id === c.assignee ? 'assigned now' : self ? '' : team.indexOf(a) < 0 ? 'other team: transfer instead' : (a.presence || 'offline') !== 'online' ? 'can’t take chats while ' + (a.presence || 'offline') : '';
          b.appendChild(el('span', 'meta', (a.presence || 'offline') + (a.open != null ? ' · ' + a.open + ' open' : '') + (why && why !== 'assigned now' ? ' · ' + why : '')));
          b.setAttribute('aria-label', a.name + ', ' + (a.presence || 'offline') + (a.open != null ? ', ' + a.open + ' open chats' : '') + (why ? ', ' + why : ''));
          if (why) { b.setAttribute('aria-disabled', 'true'); b.setAttribute('data-unavailable', why); }
          else b.addEventListener('click', function () { closeMenus(); assignTo(a.id); });
          li.appendChild(b);
          menu.appendChild(li);
        });
      }
      section(c.team ? 'Team ' + c.team : 'Agents', team);
      section('Other teams', others);
      if (c.assignee) {
        var sep = el('li');
        sep.setAttribute('role', 'separator');
        menu.appendChild(sep);
        var li = el('li');
        li.setAttribute('role', 'none');
        var u = el('button', '', 'Unassign (back to the queue)');
        u.type = 'button';
        u.setAttribute('role', 'menuitem');
        u.setAttribute('data-action', 'unassign-menu');
        u.addEventListener('click', function () { closeMenus(); act('Couldn’t unassign', '/unassign').catch(function () { }); });
        li.appendChild(u);
        menu.appendChild(li);
      }
    });
  }
  function teamsKnown() {
    var set = {};
    // Only teams someone is in: the server refuses a transfer to any other.
    S.agents.forEach(function (a) { (a.teams || []).forEach(function (t) { set[t] = 1; }); });
    return Object.keys(set).sort();
  }
  function onAction(a) {
    var c = S.convs[S.openId];
    if (!c) return;
    switch (a) {
      case 'assign-me': assignTo(''); break;
      case 'resolve': act('Couldn’t resolve', '/resolve', undefined, function () { toast({ title: 'Resolved', text: visitorName(c) + '’s conversation is closed.', ms: 4000 }); }).catch(function () { }); break;
      case 'reopen': act('Couldn’t reopen', '/reopen', undefined, function () { toast({ title: 'Reopened', text: visitorName(c) + '’s conversation is open again.', ms: 4000 }); }).catch(function () { }); break;
      case 'unassign': act('Couldn’t unassign', '/unassign').catch(function () { }); break;
      case 'transfer':
        loadAgents().catch(function () { }).then(function () {
          var teams = teamsKnown().filter(function (t) { return t !== c.team; });
          ask({
            title: 'Transfer to another team', text: 'The chat goes back to the queue of the team you pick.', label: 'Team',
            options: teams, value: teams[0] || '', placeholder: 'support', ok: 'Transfer',
            submit: function (team) { return act('Couldn’t transfer', '/transfer', { team: team }); }
          });
        });
        break;
      case 'handback': {
        // only the cards whose vars this conversation has set (the server refuses others)
        var cards = (S.detail && S.detail.conversation && S.detail.conversation.id === c.id && S.detail.handback_cards) || [];
        ask({
          title: 'Hand back to the bot', text: 'The bot resumes the playbook “' + (c.playbook || '') + '” at the card you name, and you leave the chat.', label: 'Card',
          options: cards, value: cards[0] || '', placeholder: 'welcome', ok: 'Hand back',
          submit: function (card) { return act('Couldn’t hand back', '/handback', { card: card }); }
        });
        break;
      }
      case 'labels': showDetails(true); setTimeout(function () { var i = $('label-input'); if (i) i.focus(); }, 30); break;
      case 'email':
        ask({
          title: 'Email the transcript', text: 'Sends the conversation as the visitor saw it: without private notes and without deleted messages.', label: 'To', type: 'email',
          value: (c.visitor && c.visitor.email) || S.collected[c.id] || '', placeholder: 'name@company.com', ok: 'Send',
          submit: function (to) {
            if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to)) return Promise.reject(new ApiError(400, 'That doesn’t look like an email address.'));
            return api('POST', convPath(c.id, '/transcript/email'), { to: to }).then(function () { toast({ title: 'Transcript sent', text: 'Sent to ' + to + '.', ms: 4000 }); });
          }
        });
        break;
      case 'email-internal':
        ask({
          title: 'Email an internal copy', text: 'With private notes. It goes only to an agent who can see this conversation: you, or a teammate.', label: 'To (an agent’s email)', type: 'email',
          value: (S.me && S.me.email) || '', placeholder: 'you@company.com', ok: 'Send',
          submit: function (to) {
            if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to)) return Promise.reject(new ApiError(400, 'That doesn’t look like an email address.'));
            return api('POST', convPath(c.id, '/transcript/email'), { to: to, internal: true }).then(function () { toast({ title: 'Internal copy sent', text: 'Sent to ' + to + '.', ms: 4000 }); });
          }
        });
        break;
    }
  }
  function snooze(until) {
    act('Couldn’t snooze', '/snooze', { until: until }, function () {
      toast({ title: 'Snoozed', text: until === 'reply' ? 'Until the visitor replies.' : until === 'tomorrow' ? 'Until tomorrow.' : 'Until next week.', ms: 4000 });
    }).catch(function () { });
  }

  // ---- the ask dialog ----------------------------------------------------------------------------
  var ASK = null;
  function ask(o) {
    var dlg = $('ask');
    ASK = o;
    $('ask-title').textContent = o.title;
    $('ask-text').textContent = o.text || '';
    $('ask-label').textContent = o.label || '';
    $('ask-field').hidden = !o.label;
    $('ask-ok').textContent = o.ok || 'OK';
    $('ask-ok').className = 'btn ' + (o.danger ? 'btn-danger' : 'btn-primary');
    $('ask-error').hidden = true;
    var input = $('ask-input'), select = $('ask-select');
    var useSelect = Array.isArray(o.options) && o.options.length > 0;
    input.hidden = useSelect;
    select.hidden = !useSelect;
    if (useSelect) {
      clear(select);
      o.options.forEach(function (t) { var op = el('option', '', t); op.value = t; select.appendChild(op); });
      select.value = o.value;
    } else {
      input.type = o.type || 'text';
      input.value = o.value || '';
      input.placeholder = o.placeholder || '';
    }
    var extra = clear($('ask-extra'));
    (o.extra || []).forEach(function (x) {
      var l = el('label', 'field');
      l.appendChild(el('span', '', x.label));
      var i = el('input');
      i.id = 'ask-x-' + x.name;
      i.type = x.type || 'text';
      if (x.type === 'number') { i.inputMode = 'decimal'; i.step = 'any'; i.min = '0'; }
      i.value = x.value || '';
      i.placeholder = x.placeholder || '';
      i.autocomplete = 'off';
      l.appendChild(i);
      extra.appendChild(l);
    });
    dlg.showModal();
    (!o.label ? $('ask-ok') : useSelect ? select : input).focus();
  }
  function askSubmit(ev) {
    ev.preventDefault();
    if (!ASK) return;
    var useSelect = !$('ask-select').hidden;
    var v = (useSelect ? $('ask-select').value : $('ask-input').value).trim();
    var err = $('ask-error');
    if (!v && ASK.label) { err.textContent = 'Please fill this in.'; err.hidden = false; return; }
    var ok = $('ask-ok');
    ok.disabled = true;
    var extras = {};
    (ASK.extra || []).forEach(function (x) { extras[x.name] = $('ask-x-' + x.name).value.trim(); });
    Promise.resolve().then(function () { return ASK.submit(v, extras); }).then(function () {
      ok.disabled = false;
      $('ask').close();
      ASK = null;
    }, function (e) {
      ok.disabled = false;
      err.textContent = (e && e.message) || 'That didn’t work.';
      err.hidden = false;
    });
  }

  // ---- details ---------------------------------------------------------------------------------
  var detailsTimer = 0;
  function refreshDetails() {
    clearTimeout(detailsTimer);
    var id = S.openId;
    detailsTimer = setTimeout(function () {
      api('GET', convPath(id)).then(function (d) {
        if (id !== S.openId || !d) return;
        S.detail = d;
        noteCollected(id, d);
        if (d.conversation) upsert(d.conversation);
        if (S.convs[id]) renderBanner(S.convs[id]); // Reopen depends on the details
        renderDetails();
        loadCRM(id);
      }, function () { });
    }, 400);
  }
  // ---- the CRM part of the details ------------------------------------------------------------
  // loadCRM gets whom the conversation is with in the CRM (person,
  // organization, leads, deals), what was created from it and what the
  // agent may do. A server without a CRM answers an error: no section then.
  function loadCRM(id) {
    return api('GET', convPath(id, '/crm')).then(function (p) {
      if (id !== S.openId) return;
      S.crm = p && typeof p === 'object' ? p : null;
      renderDetails();
    }, function () { if (id === S.openId && S.crm) { S.crm = null; renderDetails(); } });
  }
  function crmTitle(r) {
    r = r || {};
    return str(r.title || r.subject || r.name || r.email || r.phone || str(r.content).slice(0, 120) || r.id);
  }
  function crmMeta(r) {
    var m = [];
    if (r.value != null) m.push(Number(r.value).toLocaleString() + (r.currency ? ' ' + r.currency : ''));
    if (r.stage) m.push(str(r.stage));
    if (r.pipeline) m.push(str(r.pipeline));
    if (r.due) m.push('due ' + full(r.due));
    if (r.owner_name) m.push('owner ' + r.owner_name);
    if (r.created_by_name) m.push('by ' + r.created_by_name);
    return m.join(' · ');
  }
  function crmCard(kind, pr) {
    var r = (pr && pr.record) || pr || {};
    var li = el('li', 'record');
    li.setAttribute('data-kind', str(r.kind || kind));
    li.appendChild(el('span', 'record-kind', str(r.kind || kind)));
    var k = str(r.kind || kind), tdiv = el('div', 'record-title');
    if (r.id && (k === 'person' || k === 'lead' || k === 'deal')) { // their page (crm.js)
      var ta = el('a', '', crmTitle(r));
      ta.href = '#/' + k + '/' + encodeURIComponent(r.id);
      tdiv.appendChild(ta);
    } else tdiv.textContent = crmTitle(r);
    li.appendChild(tdiv);
    var fields = (pr && Array.isArray(pr.fields)) ? pr.fields.filter(function (f) { return f && f.value != null && f.value !== '' && f.value !== crmTitle(r); }) : [];
    if (fields.length) {
      var dl = el('dl', 'kv kv-sm');
      fields.forEach(function (f) { dl.appendChild(el('dt', '', str(f.label || f.key))); dl.appendChild(el('dd', '', fmtValue(f.value))); });
      li.appendChild(dl);
    } else {
      var meta = crmMeta(r);
      if (meta) li.appendChild(el('div', 'record-meta', meta));
    }
    return li;
  }
  var CRM_ACTIONS = { create_lead: 'Create lead', create_deal: 'Create deal', notify_sales: 'Notify the owner', edit_phone: 'Edit phone' };
  function crmSection() {
    var p = S.crm;
    var s = section('In the CRM', 'd-crm');
    if (p.person) {
      var ul = el('ul', 'records');
      ul.appendChild(crmCard('person', p.person));
      if (p.organization) ul.appendChild(crmCard('organization', p.organization));
      (p.leads || []).forEach(function (x) { ul.appendChild(crmCard('lead', x)); });
      (p.deals || []).forEach(function (x) { ul.appendChild(crmCard('deal', x)); });
      s.appendChild(ul);
      if (p.match === 'email' || p.match === 'phone') s.appendChild(el('p', 'd-empty d-small', 'Found by the visitor’s ' + p.match + '.'));
    } else {
      s.appendChild(el('p', 'd-empty', p.email ? 'No contact with ' + p.email + ' yet.' : 'No contact for this visitor yet.'));
    }
    var acts = (p.actions || []).filter(function (a) { return CRM_ACTIONS[a]; });
    if (acts.length) {
      var bar = el('div', 'crm-actions');
      acts.forEach(function (a) {
        var b = el('button', 'btn btn-ghost btn-sm', CRM_ACTIONS[a]);
        b.type = 'button';
        b.setAttribute('data-crm', a);
        b.addEventListener('click', function () { crmAction(a); });
        bar.appendChild(b);
      });
      s.appendChild(bar);
    }
    return s;
  }
  function crmAction(a) {
    var id = S.openId, c = S.convs[id] || {}, p = S.crm || {};
    var who = visitorName(c);
    var done = function (title) {
      return function (r) {
        if (r && r.crm && id === S.openId) { S.crm = r.crm; renderDetails(); }
        toast({ title: title, text: r && r.record ? crmTitle(r.record) : '', ms: 4000 });
      };
    };
    var num = function (v) { var n = parseFloat(String(v || '').replace(/[, ]/g, '')); return isNaN(n) ? undefined : n; };
    if (a === 'create_lead' || a === 'create_deal') {
      var lead = a === 'create_lead';
      // Filled in from what the bot collected (the playbook's own create
      // card over the vars so far: the panel's prefill); all editable.
      var pre = (p.prefill && p.prefill[lead ? 'lead' : 'deal']) || {};
      var extra = [
        { name: 'value', label: 'Value (optional)', type: 'number', placeholder: '30000', value: pre.value != null ? String(pre.value) : '' },
        { name: 'currency', label: 'Currency (optional)', placeholder: 'USD', value: pre.currency || '' }
      ];
      if (!lead) {
        extra.push({ name: 'stage', label: 'Stage (optional)', placeholder: 'Qualified', value: pre.stage || '' });
        extra.push({ name: 'expected_close', label: 'Expected close (optional)', type: 'date', value: pre.expected_close || '' });
      }
      extra.push({ name: 'note', label: 'Note (optional)', value: pre.note || '' });
      ask({
        title: lead ? 'Create a lead' : 'Create a deal',
        text: 'In the CRM, linked to this conversation' + (p.person ? ' and to ' + crmTitle(p.person.record) : '') + '.' +
          (pre.title || pre.value != null ? ' Filled in from what the bot collected: change anything before saving.' : ''),
        label: 'Title', value: pre.title || (lead ? 'Chat with ' : 'Deal with ') + who, ok: lead ? 'Create lead' : 'Create deal',
        extra: extra,
        submit: function (title, x) {
          var body = { title: title, value: num(x.value), client_id: newID() };
          if (x.currency) body.currency = x.currency;
          if (x.note) body.note = x.note;
          if (x.stage) body.stage = x.stage;
          if (x.expected_close) body.expected_close = x.expected_close;
          if (!lead && pre.pipeline) body.pipeline = pre.pipeline;
          if (lead && pre.source) body.source = pre.source;
          return api('POST', convPath(id, lead ? '/lead' : '/deal'), body).then(done(lead ? 'Lead created' : 'Deal created'));
        }
      });
    } else if (a === 'notify_sales') {
      var owner = p.person && p.person.record && p.person.record.owner_name;
      ask({
        title: 'Notify the owner', text: 'Leaves a note for ' + (owner || 'the contact’s owner') + ' in the CRM, with a link to this chat.',
        label: 'Message', placeholder: 'Hot lead: wants a call today', ok: 'Notify',
        submit: function (text) {
          return api('POST', convPath(id, '/notify-sales'), { text: text, client_id: newID() }).then(function (r) {
            if (r && r.crm && id === S.openId) { S.crm = r.crm; renderDetails(); }
            toast({ title: 'Owner notified', text: r && r.notified ? r.notified + ' has your note.' : '', ms: 4000 });
          });
        }
      });
    } else if (a === 'edit_phone' && p.person && p.person.record) {
      var person = p.person.record;
      ask({
        title: 'Edit the phone number', text: 'Of ' + crmTitle(person) + ' in the CRM.', label: 'Phone', type: 'tel',
        value: person.phone || '', placeholder: '+1 415 555 0100', ok: 'Save',
        submit: function (phone) {
          return api('PUT', '/api/people/' + encodeURIComponent(person.id), { phone: phone }).then(function () { return loadCRM(id); });
        }
      });
    }
  }

  function detailsWanted() { return getLS('pb-inbox:details', true); }
  function isDrawer() { return W.matchMedia('(max-width: 1279.98px)').matches; }
  function showDetails(on) {
    S.detailsOpen = on;
    if (!isDrawer()) setLS('pb-inbox:details', on);
    syncDetailsToggle();
    if (on && isDrawer()) setTimeout(function () { var x = $('details').querySelector('.d-close'); if (x && !D.activeElement.closest('#details')) x.focus(); }, 0);
  }
  function syncDetailsToggle() {
    var drawer = isDrawer();
    if (S.detailsOpen == null) S.detailsOpen = drawer ? false : detailsWanted();
    var on = !!S.openId && !!S.detailsOpen;
    $('details').hidden = !on;
    $('app').classList.toggle('no-details', !on);
    $('details-btn').setAttribute('aria-expanded', String(on));
  }
  function section(title, id) {
    var s = el('section', 'd-sec');
    var h = el('h4', '', title);
    if (id) { h.id = id; s.setAttribute('aria-labelledby', id); }
    s.appendChild(h);
    return s;
  }
  function kv(rows) {
    var dl = el('dl', 'kv');
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === '') return;
      dl.appendChild(el('dt', '', r[0]));
      var dd = el('dd');
      if (r[1] instanceof Node) dd.appendChild(r[1]); else dd.textContent = String(r[1]);
      dl.appendChild(dd);
    });
    return dl;
  }
  function fmtValue(v) {
    if (v == null) return '—';
    if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T00:00:00(\.0+)?Z$/.test(v)) return v.slice(0, 10);
    if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) && parseT(v)) return full(v);
    if (typeof v === 'object') { try { return Array.isArray(v) ? v.map(fmtValue).join(', ') : JSON.stringify(v); } catch (e) { return String(v); } }
    return String(v);
  }
  function renderDetails() {
    var box = $('details');
    var c = S.convs[S.openId];
    if (!c) { clear(box); return; }
    var d = S.detail || {};
    var focusLabel = D.activeElement && D.activeElement.id === 'label-input';
    var labelDraft = focusLabel ? D.activeElement.value : '';
    var scroll = box.scrollTop;
    clear(box);
    var v = c.visitor || {};
    var vars0 = d.vars && typeof d.vars === 'object' ? d.vars : {};
    var email = v.email || (typeof vars0.email === 'string' ? vars0.email : '');
    var head = el('div', 'd-visitor');
    var x = el('button', 'icon-btn d-close');
    x.type = 'button';
    x.setAttribute('aria-label', 'Close details');
    x.appendChild(icon('close'));
    x.addEventListener('click', function () { showDetails(false); $('details-btn').focus(); });
    head.appendChild(x);
    head.appendChild(avatarEl(visitorName(c), 'avatar-lg', v.email || v.name || c.id));
    head.appendChild(el('h3', '', visitorName(c)));
    if (email && email !== visitorName(c)) { var p = el('p'); var mh = safeHref('mailto:' + email); if (mh) p.appendChild(link(mh, email)); else p.textContent = email; head.appendChild(p); }
    if (v.page) head.appendChild(el('p', '', 'Page ' + v.page));
    box.appendChild(head);

    var s1 = section('Conversation', 'd-conv');
    var pb = el('span');
    if (c.playbook) {
      if (d.playbook_title) { pb.appendChild(D.createTextNode(d.playbook_title + ' ')); }
      pb.appendChild(el('code', '', c.playbook));
    }
    var cardName = d.card || c.card;
    var card = el('span');
    if (cardName) card.appendChild(el('code', '', cardName));
    if (c.card && d.card && c.card !== d.card) card.appendChild(D.createTextNode(' (handed off at ' + c.card + ')'));
    s1.appendChild(kv([
      ['Status', c.status === 'bot' && ended() ? 'Ended by the bot' : { open: 'Open', snoozed: 'Snoozed', resolved: 'Resolved', missed: 'Missed', bot: 'With the bot' }[c.status] || c.status],
      ['Team', c.team],
      ['Assignee', c.assignee ? (S.me && c.assignee === S.me.id ? 'You' : c.assignee_name) : 'Nobody yet'],
      ['Priority', c.priority],
      ['Playbook', c.playbook ? pb : ''],
      ['Card', cardName ? card : ''],
      ['Outcome', d.session_status === 'ended' ? d.outcome : ''],
      ['Started', full(c.started_at)],
      ['Referrer', v.referrer],
      ['Locale', v.locale]
    ]));
    box.appendChild(s1);

    var s2 = section('Labels', 'd-labels');
    var le = el('div', 'labels-edit');
    (c.labels || []).forEach(function (l) {
      var tg = el('span', 'tag tag-label');
      tg.appendChild(D.createTextNode(l));
      var rm = el('button', '', '×');
      rm.type = 'button';
      rm.setAttribute('aria-label', 'Remove label ' + l);
      rm.addEventListener('click', function () { act('Couldn’t change labels', '/labels', { add: [], remove: [l] }).catch(function () { }); });
      tg.appendChild(rm);
      le.appendChild(tg);
    });
    var li = el('input');
    li.id = 'label-input';
    li.placeholder = (c.labels || []).length ? 'Add…' : 'Add a label…';
    li.setAttribute('aria-label', 'Add a label, then press Enter');
    li.setAttribute('list', 'label-suggest');
    li.maxLength = 40;
    li.value = labelDraft;
    li.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter') return;
      ev.preventDefault();
      var val = li.value.trim().toLowerCase().replace(/\s+/g, '-');
      if (!val) return;
      li.value = '';
      act('Couldn’t add the label', '/labels', { add: [val], remove: [] }).catch(function () { });
    });
    var dlist = el('datalist');
    dlist.id = 'label-suggest';
    var known = {};
    Object.keys(S.convs).forEach(function (k) { (S.convs[k].labels || []).forEach(function (l) { known[l] = 1; }); });
    Object.keys(known).sort().forEach(function (l) { if ((c.labels || []).indexOf(l) < 0) { var o = el('option'); o.value = l; dlist.appendChild(o); } });
    le.appendChild(li);
    le.appendChild(dlist);
    s2.appendChild(le);
    box.appendChild(s2);

    var s3 = section('What the bot collected', 'd-vars');
    var vars = d.vars && typeof d.vars === 'object' ? d.vars : {};
    var keys = Object.keys(vars).filter(function (k) { return vars[k] !== '' && vars[k] != null; });
    var labels = d.var_labels && typeof d.var_labels === 'object' ? d.var_labels : {};
    // A var's label from the playbook (`label:`), else its name in words.
    var varLabel = function (k) { return str(labels[k]) || (k.charAt(0).toUpperCase() + k.slice(1)).replace(/_/g, ' '); };
    if (keys.length) s3.appendChild(kv(keys.map(function (k) { return [varLabel(k), fmtValue(vars[k])]; })));
    else s3.appendChild(el('p', 'd-empty', S.detail ? 'Nothing yet.' : 'Loading…'));
    box.appendChild(s3);

    var s4 = section('Results created', 'd-records');
    var recs = Array.isArray(d.records) ? d.records : [];
    var crmResults = S.crm && Array.isArray(S.crm.results) ? S.crm.results : [];
    if (crmResults.length) {
      var cl = el('ul', 'records');
      crmResults.forEach(function (r) { cl.appendChild(crmCard(r.kind, r)); });
      s4.appendChild(cl);
    } else if (recs.length) {
      var ul = el('ul', 'records');
      recs.forEach(function (r) {
        var li2 = el('li', 'record');
        li2.appendChild(el('span', 'record-kind', str(r.kind || 'record')));
        var f = r.fields || r;
        li2.appendChild(el('div', 'record-title', recordTitle(r) || str(r.id || r.key)));
        var meta = [];
        if (f.value != null && f.value !== '') meta.push(fmtValue(f.value) + (f.currency ? ' ' + f.currency : ''));
        if (f.stage) meta.push(str(f.stage));
        if (f.pipeline) meta.push(str(f.pipeline));
        if (f.due) meta.push('due ' + (parseT(f.due) ? full(f.due) : str(f.due)));
        if (f.owner || f.assignee) meta.push('owner ' + str(f.owner || f.assignee));
        if (meta.length) li2.appendChild(el('div', 'record-meta', meta.join(' · ')));
        ul.appendChild(li2);
      });
      s4.appendChild(ul);
    } else s4.appendChild(el('p', 'd-empty', 'No records created.'));
    box.appendChild(s4);

    if (S.crm) box.appendChild(crmSection());

    var s5 = section('Satisfaction', 'd-csat');
    if (c.csat && c.csat.score) {
      var stars = el('div', 'stars');
      stars.setAttribute('role', 'img');
      stars.setAttribute('aria-label', c.csat.score + ' out of 5 stars');
      stars.setAttribute('data-score', String(c.csat.score));
      for (var i = 1; i <= 5; i++) { var st = el('span', i <= c.csat.score ? '' : 'off', '★'); st.setAttribute('aria-hidden', 'true'); stars.appendChild(st); }
      s5.appendChild(stars);
      if (c.csat.comment) s5.appendChild(el('p', 'csat-comment', '“' + c.csat.comment + '”'));
    } else {
      s5.appendChild(el('p', 'd-empty', c.status === 'resolved' ? 'The visitor has not rated this chat yet.' : 'Asked when the chat is resolved.'));
      // A rating sends no live event: look again for a while after resolving.
      var since = parseT(c.resolved_at || c.updated_at);
      if (c.status === 'resolved' && Date.now() - since < 30 * 60 * 1000) { clearTimeout(S.csatT); S.csatT = setTimeout(refreshDetails, 10000); }
    }
    box.appendChild(s5);

    var s6 = section('Previous conversations', 'd-prev');
    var prev = Array.isArray(d.previous) ? d.previous : [];
    if (prev.length) {
      var pl = el('ul', 'prev');
      prev.forEach(function (pc) {
        var li3 = el('li');
        var a = el('a');
        var folder = pc.status === 'resolved' ? 'closed' : pc.status === 'snoozed' ? 'snoozed' : pc.status === 'missed' ? 'missed' : S.folder;
        a.href = '#/' + folder + '/' + encodeURIComponent(pc.id);
        var top = el('span', 'prev-top');
        top.appendChild(el('span', '', full(pc.started_at || pc.updated_at)));
        top.appendChild(el('span', '', { open: 'Open', snoozed: 'Snoozed', resolved: 'Resolved', missed: 'Missed', bot: 'Bot chat' }[pc.status] || str(pc.status)));
        a.appendChild(top);
        a.appendChild(el('div', 'prev-last', pc.last ? str(pc.last.text) : (pc.playbook || '')));
        li3.appendChild(a);
        pl.appendChild(li3);
      });
      s6.appendChild(pl);
    } else s6.appendChild(el('p', 'd-empty', 'None: this is the first one.'));
    box.appendChild(s6);
    box.scrollTop = scroll;
    if (focusLabel) { var again = $('label-input'); again.focus(); }
    syncDetailsToggle();
  }

  // ---- menus ------------------------------------------------------------------------------------
  var openMenu = null;
  function menuItems(menu) { return Array.prototype.slice.call(menu.querySelectorAll('[role^="menuitem"]:not([aria-disabled="true"])')); }
  function toggleMenu(btn, menu, fill) {
    if (openMenu && openMenu.menu === menu) { closeMenus(true); return; }
    closeMenus();
    openMenu = { btn: btn, menu: menu };
    btn.setAttribute('aria-expanded', 'true');
    menu.hidden = false;
    Promise.resolve(fill ? fill(menu) : null).then(function () {
      if (!openMenu || openMenu.menu !== menu) return;
      var items = menuItems(menu);
      var checked = menu.querySelector('[aria-checked="true"]');
      (checked || items[0] || menu).focus();
    });
  }
  function closeMenus(refocus) {
    if (!openMenu) return;
    var m = openMenu;
    openMenu = null;
    m.menu.hidden = true;
    m.btn.setAttribute('aria-expanded', 'false');
    if (refocus) m.btn.focus();
  }
  function menuKeys(ev) {
    if (!openMenu) return;
    var items = menuItems(openMenu.menu), i = items.indexOf(D.activeElement);
    if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); closeMenus(true); }
    else if (ev.key === 'ArrowDown') { ev.preventDefault(); (items[(i + 1) % items.length] || items[0]).focus(); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); (items[(i - 1 + items.length) % items.length] || items[0]).focus(); }
    else if (ev.key === 'Home') { ev.preventDefault(); items[0].focus(); }
    else if (ev.key === 'End') { ev.preventDefault(); items[items.length - 1].focus(); }
    else if (ev.key === 'Tab') closeMenus();
  }

  // ---- presence --------------------------------------------------------------------------------
  var PRESENCE = { online: 'Online', away: 'Away', offline: 'Offline' };
  function showPresence(p) {
    S.presence = PRESENCE[p] ? p : 'offline';
    var btn = $('presence-btn');
    btn.querySelector('.pdot').setAttribute('data-presence', S.presence);
    $('presence-label').textContent = PRESENCE[S.presence];
    btn.setAttribute('aria-label', 'Your status: ' + PRESENCE[S.presence] + '. Change');
    btn.setAttribute('data-presence', S.presence);
    Array.prototype.forEach.call($('presence-menu').querySelectorAll('[data-presence]'), function (b) {
      if (b.getAttribute('role')) b.setAttribute('aria-checked', String(b.getAttribute('data-presence') === S.presence));
    });
    var av = $('me-avatar').querySelector('.pdot');
    if (av) av.setAttribute('data-presence', S.presence);
  }
  function setPresence(p) {
    var before = S.presence;
    showPresence(p);
    api('PUT', '/api/me/presence', { status: p }).then(function (r) {
      showPresence((r && r.status) || p);
      if (p === 'online') wsSend({ type: 'heartbeat' });
    }, function (err) { showPresence(before); fail('Couldn’t change your status')(err); });
  }

  // ---- the websocket ----------------------------------------------------------------------------
  function wsSend(f) {
    if (S.ws && S.ws.readyState === 1 && S.wsHello) { S.ws.send(JSON.stringify(f)); return true; }
    return false;
  }
  function connect() {
    clearTimeout(S.wsTimer);
    if (S.ws || S.stopped) return;
    var ws;
    try { ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws/agent'); } catch (e) { reconnectLater(); return; }
    S.ws = ws;
    S.wsHello = false;
    ws.onopen = function () {
      if (ws !== S.ws) return;
      clearInterval(S.hbTimer);
      S.hbTimer = setInterval(function () { if (ws.readyState === 1) ws.send('{"type":"heartbeat"}'); }, 10000);
    };
    ws.onmessage = function (ev) {
      if (ws !== S.ws) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object') onFrame(f);
    };
    ws.onclose = function (ev) {
      if (ws !== S.ws) return;
      S.ws = null;
      S.wsHello = false;
      clearInterval(S.hbTimer);
      if (ev && ev.code === 1012) S.wsAttempt = 0; // the server restarts: come back at once
      if (!S.stopped) reconnectLater();
    };
  }
  function reconnectLater() {
    var n = S.wsAttempt++;
    var d = Math.min(15000, 500 * Math.pow(2, n));
    d = d / 2 + Math.random() * d / 2;
    clearTimeout(S.wsTimer);
    S.wsTimer = setTimeout(connect, d);
    if (n >= 1 || d > 1200) conn('Reconnecting…');
    if (n >= 2) { // perhaps signed out (session expired, server restarted without it)
      api('GET', '/api/me').catch(function (err) { if (err.status === 401) signedOut(); });
    }
  }
  function conn(text) { var c = $('conn'); c.textContent = text || ''; c.hidden = !text; }
  function onFrame(f) {
    switch (f.type) {
      case 'hello':
        S.wsHello = true;
        S.wsAttempt = 0;
        conn('');
        S.ws.send('{"type":"heartbeat"}');
        if (S.everConnected) { // we may have missed things: reload, then follow again
          loadLists().catch(function () { });
          if (S.openId) refreshDetails();
          W.dispatchEvent(new CustomEvent('pbinbox:resync'));
        }
        S.everConnected = true;
        follow();
        break;
      case 'conversation':
        if (f.conversation) {
          upsert(f.conversation);
          if (f.conversation.id === S.openId) { renderHead(S.convs[S.openId]); renderDetails(); }
          scheduleList();
        }
        break;
      case 'entry':
        if (f.conversation === S.openId && f.entry) addEntries([f.entry], true);
        else if (f.entry && S.convs[f.conversation] && (f.entry.kind === 'message' || f.entry.kind === 'note')) {
          var c = S.convs[f.conversation];
          if (!c.last || parseT(f.entry.at) >= parseT(c.last.at)) {
            c.last = { from: f.entry.kind === 'note' ? 'note' : f.entry.from, text: f.entry.text, at: f.entry.at, author: f.entry.author };
            c.updated_at = f.entry.at;
            scheduleList();
          }
        }
        break;
      case 'revoked': // a transfer or reassignment took this conversation out of reach
        delete S.convs[f.conversation];
        FOLDERS.forEach(function (x) { delete S.member[x.id][f.conversation]; });
        if (f.conversation === S.openId) {
          openConversation('');
          toast({ title: 'Conversation moved', text: 'You can no longer see this conversation.', ms: 6000 });
        }
        loadLists().catch(function () { });
        break;
      case 'resync': // the server lost live updates for a moment: reload what may have changed
        loadLists().catch(function () { });
        if (S.openId) refreshDetails();
        W.dispatchEvent(new CustomEvent('pbinbox:resync'));
        break;
      case 'record': // CRM records I may see were created or changed: the CRM screens (crm.js) follow
        (Array.isArray(f.records) ? f.records : []).forEach(function (r) { W.dispatchEvent(new CustomEvent('pbinbox:record', { detail: r })); });
        break;
      case 'typing': setTypingIn(f.conversation, f); break;
      case 'notify': onNotify(f); break;
    }
  }

  // ---- canned responses ------------------------------------------------------------------------------
  function loadCanned() {
    return api('GET', '/api/canned').then(function (list) {
      S.canned = (Array.isArray(list) ? list : []).slice().sort(function (a, b) { return str(a.short).localeCompare(str(b.short)); });
      return S.canned;
    }, function () { S.canned = S.canned || []; return S.canned; });
  }
  // scopeLabel says whose a canned response is, as the list shows it.
  function scopeLabel(c) {
    if (c.scope === 'personal') return 'Only me';
    if (c.scope === 'shared') return 'Everyone';
    return 'Team ' + (c.team || '');
  }
  // fillCannedScopes offers what the agent may save for: each of their teams
  // (admins: every team), themselves, and for admins everyone.
  function fillCannedScopes() {
    var sel = clear($('canned-scope'));
    var admin = S.me && S.me.role === 'admin';
    var teams = admin ? teamsKnown() : ((S.me && S.me.teams) || []).slice().sort();
    teams.forEach(function (t) { var o = el('option', '', 'Team ' + t); o.value = 'team:' + t; sel.appendChild(o); });
    var p = el('option', '', 'Only me'); p.value = 'personal'; sel.appendChild(p);
    if (admin) { var e = el('option', '', 'Everyone'); e.value = 'shared'; sel.appendChild(e); }
  }
  // cannedEditing switches the form between adding and editing c (null: adding).
  function cannedEditing(c) {
    S.cannedEdit = c ? c.id : '';
    $('canned-submit').textContent = c ? 'Save' : 'Add';
    $('canned-cancel').hidden = !c;
    $('canned-scope').disabled = !!c; // a canned response keeps its scope
    if (c) {
      $('canned-short').value = c.short;
      $('canned-text').value = c.text;
      $('canned-scope').value = c.scope === 'team' ? 'team:' + c.team : c.scope;
      $('canned-text').focus();
    }
  }
  function renderCanned() {
    var ul = clear($('canned-list'));
    var list = S.canned || [];
    if (!list.length) { var e = el('li', 'empty', 'No canned responses yet.'); ul.appendChild(e); return; }
    list.forEach(function (c) {
      var li = el('li');
      li.setAttribute('data-canned', c.id || '');
      li.appendChild(el('span', 'c-short', '/' + c.short));
      var t = el('span', 'c-text', c.text);
      t.title = c.text;
      li.appendChild(t);
      li.appendChild(el('span', 'tag c-scope', scopeLabel(c)));
      if (c.editable) { // others' are read-only: the server would refuse
        var ed = el('button', 'btn btn-ghost c-edit', 'Edit');
        ed.type = 'button';
        ed.setAttribute('aria-label', 'Edit /' + c.short);
        ed.addEventListener('click', function () { cannedError(''); cannedEditing(c); });
        li.appendChild(ed);
        var del = el('button', 'icon-btn');
        del.type = 'button';
        del.setAttribute('aria-label', 'Delete /' + c.short);
        del.title = 'Delete';
        del.appendChild(icon('trash', 'i-sm'));
        del.addEventListener('click', function () {
          api('DELETE', '/api/canned/' + encodeURIComponent(c.id)).then(function () { if (S.cannedEdit === c.id) cannedEditing(null); return loadCanned(); }).then(renderCanned, function (err) { cannedError(err.message); });
        });
        li.appendChild(del);
      }
      ul.appendChild(li);
    });
  }
  function cannedError(msg) { var n = $('canned-error'); n.textContent = msg || ''; n.hidden = !msg; }
  function openSettings() {
    cannedError('');
    $('opt-sound').checked = !!S.prefs.sound;
    $('opt-desktop').checked = !!S.prefs.desktop;
    desktopState();
    fillCannedScopes();
    cannedEditing(null);
    renderCanned();
    $('settings').showModal();
    loadCanned().then(renderCanned);
  }

  // ---- sign in and out ---------------------------------------------------------------------------------
  function showLogin(msg) {
    $('boot').hidden = true;
    $('app').hidden = true;
    $('login').hidden = false;
    loginError(msg || '');
    setTimeout(function () { ($('login-email').value ? $('login-password') : $('login-email')).focus(); }, 0);
  }
  function loginError(msg) {
    var n = $('login-error');
    n.textContent = msg;
    n.hidden = !msg;
    $('login-email').setAttribute('aria-invalid', String(!!msg));
    $('login-password').setAttribute('aria-invalid', String(!!msg));
  }
  function login(ev) {
    ev.preventDefault();
    var email = $('login-email').value.trim(), pw = $('login-password').value;
    if (!email || !pw) { loginError('Enter your email and password.'); ($('login-email').value ? $('login-password') : $('login-email')).focus(); return; }
    var btn = $('login-submit');
    btn.disabled = true;
    btn.textContent = 'Signing in…';
    api('POST', '/api/auth/login', { email: email, password: pw }).then(function (r) {
      S.csrf = (r && r.csrf) || '';
      return api('GET', '/api/me').catch(function () { return r; });
    }).then(function (me) {
      btn.disabled = false;
      btn.textContent = 'Sign in';
      $('login-password').value = '';
      start(me);
    }, function (err) {
      btn.disabled = false;
      btn.textContent = 'Sign in';
      var msg = err.status === 401 ? 'Wrong email or password.' :
        err.status === 429 ? 'Too many sign-in attempts. Wait a minute, then try again.' :
          err.status === 0 ? err.message : (err.message || 'Couldn’t sign in.');
      loginError(msg);
      $('login-password').select();
      $('login-password').focus();
    });
  }
  function logout() {
    closeMenus();
    api('POST', '/api/auth/logout').catch(function () { }).then(function () { stop(); showLogin(''); });
  }
  function signedOut() {
    if (!S.me) return;
    stop();
    showLogin('You were signed out. Please sign in again.');
  }
  function stop() {
    S.stopped = true;
    clearTimeout(S.wsTimer);
    clearInterval(S.hbTimer);
    if (S.ws) { try { S.ws.close(1000); } catch (e) { } }
    S.ws = null;
    S.me = null;
    S.csrf = '';
    S.convs = {};
    FOLDERS.forEach(function (f) { S.member[f.id] = {}; });
    S.openId = '';
    S.everConnected = false;
    S.canned = null;
    conn('');
  }

  function start(me) {
    S.me = me.agent || me;
    if (me.csrf) S.csrf = me.csrf;
    // Email is offered only when the server can send it (--smtp).
    if (me.mail !== true) {
      ['email', 'email-internal'].forEach(function (a) {
        var b = D.querySelector('#more-menu [data-action="' + a + '"]');
        if (b) b.parentNode.remove();
      });
    }
    S.seen = getLS(seenKey(), {}) || {};
    S.prefs = getLS('pb-inbox:prefs', { sound: true, desktop: true }) || { sound: true, desktop: true };
    $('boot').hidden = true;
    $('login').hidden = true;
    $('app').hidden = false;
    $('me-name').textContent = S.me.name;
    $('me-menu-name').textContent = S.me.name;
    $('me-menu-email').textContent = S.me.email || '';
    var av = avatar($('me-avatar'), S.me.name, S.me.name);
    var dot = el('span', 'pdot');
    av.appendChild(dot);
    if (!$('me-btn').querySelector('.sr-only')) $('me-btn').appendChild(el('span', 'sr-only', ', account menu')); // the visible name starts the accessible one
    showPresence(me.presence || 'offline');
    S.stopped = false;
    S.wsAttempt = 0;
    connect();
    renderFolders();
    // Screens of other scripts (stats.js) learn who signed in.
    W.dispatchEvent(new CustomEvent('pbinbox:me', { detail: S.me }));
    Promise.all([loadLists(), loadAgents().catch(function () { }), loadCanned()]).then(function () {
      route();
    }, function (err) { toast({ title: 'Couldn’t load the inbox', text: err.message, error: true }); route(); });
  }

  // ---- wiring --------------------------------------------------------------------------------------------
  function wire() {
    $('login-form').addEventListener('submit', login);
    $('logout-btn').addEventListener('click', logout);
    W.addEventListener('hashchange', route);

    $('presence-btn').addEventListener('click', function () { toggleMenu($('presence-btn'), $('presence-menu')); });
    $('presence-menu').addEventListener('click', function (ev) {
      var b = ev.target.closest('[data-presence][role]');
      if (!b) return;
      closeMenus(true);
      setPresence(b.getAttribute('data-presence'));
    });
    $('me-btn').addEventListener('click', function () { toggleMenu($('me-btn'), $('me-menu')); });
    $('settings-btn').addEventListener('click', openSettings);

    var conv = $('conv');
    conv.querySelector('[data-action="assignee"]').addEventListener('click', function (ev) { toggleMenu(ev.currentTarget, $('assignee-menu'), fillAgentMenu); });
    conv.querySelector('[data-action="snooze"]').addEventListener('click', function (ev) { toggleMenu(ev.currentTarget, $('snooze-menu')); });
    conv.querySelector('[data-action="more"]').addEventListener('click', function (ev) { toggleMenu(ev.currentTarget, $('more-menu')); });
    $('snooze-menu').addEventListener('click', function (ev) {
      var b = ev.target.closest('[data-until]');
      if (!b) return;
      closeMenus(true);
      snooze(b.getAttribute('data-until'));
    });
    conv.addEventListener('click', function (ev) {
      var b = ev.target.closest('[data-action]');
      if (!b || b.getAttribute('aria-haspopup') || b.getAttribute('aria-disabled') === 'true') return;
      var a = b.getAttribute('data-action');
      if (a === 'download') { closeMenus(); return; } // the link downloads
      if (['assign-me', 'resolve', 'reopen', 'unassign', 'transfer', 'handback', 'labels', 'email', 'email-internal'].indexOf(a) < 0) return;
      closeMenus();
      onAction(a);
    });
    $('details-btn').addEventListener('click', function () { showDetails(!S.detailsOpen); });
    $('back-btn').addEventListener('click', function () { go(S.folder, ''); });
    W.matchMedia('(max-width: 1279.98px)').addEventListener('change', function (m) { S.detailsOpen = m.matches ? false : detailsWanted(); syncDetailsToggle(); });

    $('conv-list').addEventListener('keydown', listKeys);
    $('filter').addEventListener('input', function () { S.filter = $('filter').value; renderList(); });

    var ta = $('composer-input');
    ta.addEventListener('keydown', composerKeys);
    // Enter sends; only Shift+Enter may add a line (some input methods and
    // automation send the line break apart from the keydown).
    ta.addEventListener('beforeinput', function (ev) {
      if ((ev.inputType === 'insertLineBreak' || ev.inputType === 'insertParagraph') && !S.enterShift) ev.preventDefault();
      S.enterShift = false;
    });
    ta.addEventListener('input', function () { autosize(); updateSend(); updatePicker(); typingInput(); composerError(''); });
    ta.addEventListener('click', updatePicker);
    ta.addEventListener('blur', function () { setTimeout(function () { if (D.activeElement !== ta) closePicker(); }, 100); });
    $('composer').addEventListener('submit', function (ev) { ev.preventDefault(); send(); ta.focus(); });
    ['tab-reply', 'tab-note'].forEach(function (id) {
      $(id).addEventListener('click', function () { setMode($(id).getAttribute('data-mode'), true); });
      $(id).addEventListener('keydown', function (ev) {
        if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
        ev.preventDefault();
        var other = id === 'tab-reply' ? 'tab-note' : 'tab-reply';
        setMode($(other).getAttribute('data-mode'), false);
        $(other).focus();
      });
    });

    $('ask-form').addEventListener('submit', askSubmit);
    $('ask-cancel').addEventListener('click', function () { $('ask').close(); ASK = null; });

    $('canned-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var sh = $('canned-short').value.trim().replace(/^\//, ''), tx = $('canned-text').value.trim();
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(sh)) { cannedError('The short name is 1 to 32 letters, digits, - or _.'); $('canned-short').focus(); return; }
      if (!tx) { cannedError('Write the text to insert.'); $('canned-text').focus(); return; }
      var scope = $('canned-scope').value || '', body = { short: sh, text: tx };
      if (scope.indexOf('team:') === 0) { body.scope = 'team'; body.team = scope.slice(5); } else if (scope) body.scope = scope;
      var req = S.cannedEdit ? api('PUT', '/api/canned/' + encodeURIComponent(S.cannedEdit), { short: sh, text: tx }) : api('POST', '/api/canned', body);
      req.then(function () {
        $('canned-short').value = '';
        $('canned-text').value = '';
        cannedError('');
        cannedEditing(null);
        return loadCanned();
      }).then(function () { renderCanned(); $('canned-short').focus(); }, function (err) { cannedError(err.message); });
    });
    $('canned-cancel').addEventListener('click', function () {
      $('canned-short').value = '';
      $('canned-text').value = '';
      cannedError('');
      cannedEditing(null);
      $('canned-short').focus();
    });
    $('opt-sound').addEventListener('change', function () { S.prefs.sound = $('opt-sound').checked; setLS('pb-inbox:prefs', S.prefs); if (S.prefs.sound) beep(); });
    $('opt-desktop').addEventListener('change', function () {
      S.prefs.desktop = $('opt-desktop').checked;
      setLS('pb-inbox:prefs', S.prefs);
      if (S.prefs.desktop && 'Notification' in W && Notification.permission === 'default') Notification.requestPermission().then(desktopState, desktopState);
    });

    D.addEventListener('keydown', menuKeys, true);
    D.addEventListener('click', function (ev) {
      if (openMenu && !openMenu.menu.contains(ev.target) && !openMenu.btn.contains(ev.target)) closeMenus();
    });
    D.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && !openMenu && S.detailsOpen && isDrawer() && !D.querySelector('dialog[open]')) { showDetails(false); $('details-btn').focus(); }
    });
    // Sound and the notification permission need a user gesture: the first click.
    D.addEventListener('click', firstClick, true);
    D.addEventListener('keydown', unlockAudio, true);

    setInterval(function () { if (S.me && !D.hidden) loadAgents().catch(function () { }); }, 30000); // teammates' presence
    setInterval(function () {
      Array.prototype.forEach.call(D.querySelectorAll('time[data-ago]'), function (t) { t.textContent = ago(t.dateTime); });
      Object.keys(S.typingIn).forEach(function (k) { if (S.typingIn[k].until < Date.now()) setTypingIn(k, { on: false, from: S.typingIn[k].from }); });
    }, 20000);
  }

  function boot() {
    wire();
    api('GET', '/api/me').then(start, function (err) {
      showLogin(err.status === 401 || err.status === 404 ? '' : err.message);
    });
  }
  if (D.readyState === 'loading') D.addEventListener('DOMContentLoaded', boot); else boot();
})();
