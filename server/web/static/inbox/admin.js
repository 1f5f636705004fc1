/*
 * Playbook inbox: the team Settings screen (issue 14). No dependencies, no
 * build step; loaded after inbox.js, whose helpers it takes from
 * window.PBInbox.
 *
 *   #/admin   agents (invite, disable, enable, new password, remove),
 *             teams (routing, capacity, reopen policy, opening hours),
 *             API tokens (create with an expiry, revoke), a test mail.
 *
 * Admins only: the link shows for admins, and every /api/admin/ call asks
 * the access policy on the server. Text from the server is inserted as
 * text; a generated password or token is shown once.
 */
(function () {
  'use strict';
  var P = window.PBInbox;
  if (!P) return;
  var D = document, el = P.el, clear = P.clear;
  function $(id) { return D.getElementById(id); }
  var svg = P.svg;
  function isAdmin(me) { return !!me && me.role === 'admin'; }
  var ROUTING = [['manual', 'Manual: agents take chats'], ['round_robin', 'Round robin'], ['least_busy', 'Least busy']];
  var REOPEN = [['never', 'Closed for good'], ['reopen', 'Reopens when the visitor writes']];
  var ROLES = [['agent', 'Agent'], ['admin', 'Admin'], ['marketer', 'Marketer']];

  // The nav link, for admins.
  function renderNav(me) {
    var nav = D.querySelector('nav.folders');
    if (!nav) return;
    var ul = $('admin-nav');
    if (!isAdmin(me)) { if (ul) ul.hidden = true; var t0 = $('admin-title'); if (t0) t0.hidden = true; return; }
    if (ul) { ul.hidden = false; $('admin-title').hidden = false; return; }
    var title = el('p', 'nav-title', 'Administration');
    title.id = 'admin-title';
    title.setAttribute('aria-hidden', 'true');
    ul = el('ul');
    ul.id = 'admin-nav';
    ul.setAttribute('aria-label', 'Administration');
    var li = el('li');
    var a = el('a', 'folder');
    a.href = '#/admin';
    a.id = 'admin-link';
    a.setAttribute('data-short', 'Team');
    a.setAttribute('aria-label', 'Team settings');
    a.appendChild(svg(['M16 19v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 17.5V19', 'M10 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M20 19v-1.5a3.5 3.5 0 0 0-2.5-3.4', 'M15.5 5.2a3 3 0 0 1 0 5.6']));
    a.appendChild(el('span', 'folder-name', 'Team settings'));
    li.appendChild(a);
    ul.appendChild(li);
    var team = nav.querySelector('section.team');
    nav.insertBefore(title, team);
    nav.insertBefore(ul, team);
  }
  window.addEventListener('pbinbox:me', function (ev) { renderNav(ev.detail); });

  function options(select, list, value) {
    list.forEach(function (o) {
      var opt = el('option', '', o[1]);
      opt.value = o[0];
      if (o[0] === value) opt.selected = true;
      select.appendChild(opt);
    });
    return select;
  }
  function field(label, input, cls) {
    var l = el('label', 'field ' + (cls || ''));
    l.appendChild(el('span', '', label));
    l.appendChild(input);
    return l;
  }
  function input(type, name, value) {
    var i = el('input');
    i.type = type;
    i.name = name;
    if (value !== undefined && value !== null) i.value = String(value);
    i.autocomplete = 'off';
    return i;
  }
  function button(text, cls, type) {
    var b = el('button', 'btn ' + (cls || ''), text);
    b.type = type || 'button';
    return b;
  }
  function section(id, title, intro) {
    var s = el('section', 'admin-section');
    s.setAttribute('aria-labelledby', id);
    var h = el('h3', '', title);
    h.id = id;
    s.appendChild(h);
    if (intro) s.appendChild(el('p', 'muted', intro));
    return s;
  }
  // A message under a form: role=alert for errors, status otherwise.
  function say(box, text, error) {
    clear(box);
    box.hidden = !text;
    box.className = error ? 'form-error' : 'admin-ok';
    box.setAttribute('role', error ? 'alert' : 'status');
    if (text) box.appendChild(D.createTextNode(text));
  }
  function msgBox() { var b = el('div', 'admin-ok'); b.hidden = true; return b; }
  // The one-time secret: shown in a box with a note that it will not be
  // shown again.
  function secret(box, label, value, note) {
    clear(box);
    box.hidden = false;
    box.className = 'admin-secret';
    box.setAttribute('role', 'status');
    box.appendChild(el('span', '', label + ' '));
    var code = el('code', '', value);
    code.setAttribute('data-secret', '');
    box.appendChild(code);
    box.appendChild(el('p', 'muted', note));
  }
  function when(s) {
    if (!s) return 'never';
    var d = new Date(s);
    return isNaN(d) ? String(s) : d.toLocaleDateString([], { dateStyle: 'medium' });
  }

  var token = 0;
  function show() {
    var me = P.me();
    var body = P.screenFrame('Team settings', 'Agents, teams and their routing and opening hours, API tokens and mail. Only admins see this page.').body;
    var a = $('admin-link');
    if (a) a.setAttribute('aria-current', 'page');
    if (!isAdmin(me)) {
      P.screenError(body, 'Only admins see the team settings.');
      return;
    }
    var my = ++token;
    var agentsSec = section('admin-agents-title', 'Agents', 'Invite an agent: they get a password, shown here once (and mailed to them when mail is set up). Disabling signs them out at once, everywhere.');
    var teamsSec = section('admin-teams-title', 'Teams', 'How each team’s new chats find an agent, how many each agent takes, whether a resolved chat may open again, and the team’s opening hours for open_hours() in playbooks (e.g. mon-fri 09:00-18:00 Europe/Berlin; empty: as hours.yaml or serve --hours say).');
    var tokensSec = section('admin-tokens-title', 'API tokens', 'Tokens let scripts act as an agent. A token is shown once; a revoked or expired one stops working at once.');
    var mailSec = section('admin-mail-title', 'Mail', 'Send a test mail to your own address (' + me.email + ') to check the server’s SMTP settings.');
    [agentsSec, teamsSec, tokensSec, mailSec].forEach(function (s) { body.appendChild(s); });
    var state = { agents: [], teams: [], tokens: [] };

    function reload() {
      return Promise.all([
        P.api('GET', '/api/admin/agents'), P.api('GET', '/api/admin/teams'), P.api('GET', '/api/admin/tokens')
      ]).then(function (r) {
        if (my !== token) return;
        state.agents = r[0] || []; state.teams = r[1] || []; state.tokens = r[2] || [];
        renderAgents(); renderTeams(); renderTokens();
      }, function (e) {
        if (my !== token) return;
        P.screenError(clear(body), e.message);
      });
    }

    // ---- agents
    var inviteForm = el('form', 'admin-form');
    inviteForm.id = 'invite-form';
    inviteForm.noValidate = true;
    inviteForm.setAttribute('aria-label', 'Invite an agent');
    var iEmail = input('email', 'email'); iEmail.id = 'invite-email'; iEmail.required = true;
    var iName = input('text', 'name'); iName.id = 'invite-name'; iName.required = true;
    var iTeams = input('text', 'teams'); iTeams.id = 'invite-teams'; iTeams.placeholder = 'sales, support';
    var iRole = options(el('select'), ROLES, 'agent'); iRole.id = 'invite-role'; iRole.name = 'role';
    inviteForm.appendChild(field('Email', iEmail));
    inviteForm.appendChild(field('Name', iName));
    inviteForm.appendChild(field('Teams', iTeams));
    inviteForm.appendChild(field('Role', iRole));
    inviteForm.appendChild(button('Invite', 'btn-primary', 'submit'));
    var inviteMsg = msgBox(); inviteMsg.id = 'invite-result';
    var agentList = el('ul', 'admin-list');
    agentList.id = 'admin-agent-list';
    agentList.setAttribute('aria-label', 'Agents');
    var agentMsg = msgBox(); agentMsg.id = 'agent-result';
    agentsSec.appendChild(inviteForm);
    agentsSec.appendChild(inviteMsg);
    agentsSec.appendChild(agentList);
    agentsSec.appendChild(agentMsg);
    inviteForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var teams = iTeams.value.split(',').map(function (t) { return t.trim(); }).filter(Boolean);
      P.api('POST', '/api/admin/agents', { email: iEmail.value.trim(), name: iName.value.trim(), teams: teams, role: iRole.value }).then(function (r) {
        inviteForm.reset();
        secret(inviteMsg, r.agent.name + ' can sign in with the password', r.password,
          r.mailed ? 'It was also mailed to ' + r.agent.email + '. It is not shown again.' : 'Pass it on to ' + r.agent.email + ': it is not shown again.');
        return reload();
      }, function (e) { say(inviteMsg, e.message, true); iEmail.focus(); });
    });

    function renderAgents() {
      clear(agentList);
      state.agents.forEach(function (g) {
        var li = el('li', 'admin-row' + (g.disabled ? ' is-disabled' : ''));
        li.setAttribute('data-agent', g.id);
        var who = el('div', 'admin-who');
        who.appendChild(el('strong', '', g.name));
        who.appendChild(el('span', 'muted', g.email));
        var facts = [ROLES.filter(function (r) { return r[0] === g.role; }).map(function (r) { return r[1]; })[0] || g.role];
        if (g.teams && g.teams.length) facts.push(g.teams.join(', '));
        facts.push(g.disabled ? 'Disabled' : g.presence);
        who.appendChild(el('span', 'admin-facts', facts.join(' · ')));
        li.appendChild(who);
        var acts = el('div', 'admin-actions');
        if (g.id !== me.id) {
          var t = button(g.disabled ? 'Enable' : 'Disable', 'btn-ghost');
          t.setAttribute('data-action', g.disabled ? 'enable' : 'disable');
          t.setAttribute('aria-label', (g.disabled ? 'Enable ' : 'Disable ') + g.name);
          t.addEventListener('click', function () {
            P.api('POST', '/api/admin/agents/' + encodeURIComponent(g.id) + '/' + (g.disabled ? 'enable' : 'disable')).then(function () {
              say(agentMsg, g.name + (g.disabled ? ' can sign in again.' : ' is disabled and signed out.'));
              return reload();
            }, function (e) { say(agentMsg, e.message, true); });
          });
          acts.appendChild(t);
        }
        var pw = button('New password', 'btn-ghost');
        pw.setAttribute('data-action', 'password');
        pw.setAttribute('aria-label', 'New password for ' + g.name);
        pw.addEventListener('click', function () {
          P.api('POST', '/api/admin/agents/' + encodeURIComponent(g.id) + '/password').then(function (r) {
            secret(agentMsg, g.name + '’s new password is', r.password,
              (r.mailed ? 'It was also mailed to them. ' : '') + 'Their sessions ended; it is not shown again.');
          }, function (e) { say(agentMsg, e.message, true); });
        });
        acts.appendChild(pw);
        if (g.id !== me.id) {
          var rm = button('Remove', 'btn-ghost btn-danger');
          rm.setAttribute('data-action', 'remove');
          rm.setAttribute('aria-label', 'Remove ' + g.name);
          rm.addEventListener('click', function () {
            if (rm.getAttribute('data-armed') !== '1') {
              rm.setAttribute('data-armed', '1');
              rm.textContent = 'Click again to remove';
              return;
            }
            P.api('DELETE', '/api/admin/agents/' + encodeURIComponent(g.id)).then(function () {
              say(agentMsg, g.name + ' was removed.');
              return reload();
            }, function (e) { say(agentMsg, e.message, true); });
          });
          acts.appendChild(rm);
        }
        li.appendChild(acts);
        agentList.appendChild(li);
      });
    }

    // ---- teams
    var teamList = el('div', 'admin-teams');
    teamList.id = 'admin-team-list';
    teamsSec.appendChild(teamList);
    function teamForm(t, isNew) {
      var f = el('form', 'admin-form admin-team');
      f.noValidate = true;
      var key = isNew ? 'new' : t.name;
      f.setAttribute('data-team', key);
      f.setAttribute('aria-label', isNew ? 'New team' : 'Team ' + t.name);
      var name = null;
      if (isNew) {
        name = input('text', 'name'); name.id = 'team-new-name'; name.placeholder = 'night-shift';
        f.appendChild(field('New team', name));
      } else {
        f.appendChild(el('h4', 'admin-team-name', t.name));
      }
      var routing = options(el('select'), ROUTING, t.routing || 'manual'); routing.name = 'routing'; routing.id = 'team-' + key + '-routing';
      var cap = input('number', 'capacity', t.capacity || 0); cap.min = '0'; cap.id = 'team-' + key + '-capacity';
      var reopen = options(el('select'), REOPEN, t.reopen || 'never'); reopen.name = 'reopen'; reopen.id = 'team-' + key + '-reopen';
      var hours = input('text', 'hours', t.hours || ''); hours.id = 'team-' + key + '-hours'; hours.placeholder = 'mon-fri 09:00-18:00 Europe/Berlin';
      f.appendChild(field('Routing', routing));
      f.appendChild(field('Chats per agent (0: no cap)', cap, 'field-num'));
      f.appendChild(field('Resolved chats', reopen));
      f.appendChild(field('Opening hours', hours, 'field-grow'));
      f.appendChild(button(isNew ? 'Create team' : 'Save', 'btn-primary', 'submit'));
      var msg = msgBox();
      f.appendChild(msg);
      f.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var n = isNew ? name.value.trim() : t.name;
        if (!n) { say(msg, 'Give the team a name: lowercase letters, digits and dashes.', true); name.focus(); return; }
        P.api('PUT', '/api/admin/teams/' + encodeURIComponent(n), { routing: routing.value, capacity: parseInt(cap.value, 10) || 0, reopen: reopen.value, hours: hours.value.trim() }).then(function () {
          if (isNew) return reload();
          say(msg, 'Saved.');
        }, function (e) { say(msg, e.message, true); });
      });
      return f;
    }
    function renderTeams() {
      clear(teamList);
      state.teams.forEach(function (t) { teamList.appendChild(teamForm(t, false)); });
      teamList.appendChild(teamForm({}, true));
    }

    // ---- tokens
    var tokenForm = el('form', 'admin-form');
    tokenForm.id = 'token-form';
    tokenForm.noValidate = true;
    tokenForm.setAttribute('aria-label', 'New API token');
    var tAgent = el('select'); tAgent.id = 'token-agent'; tAgent.name = 'agent';
    var tName = input('text', 'name'); tName.id = 'token-name'; tName.placeholder = 'nightly export';
    var tDays = input('number', 'expires_in_days', 90); tDays.id = 'token-days'; tDays.min = '0'; tDays.max = '1825';
    tokenForm.appendChild(field('Acts as', tAgent));
    tokenForm.appendChild(field('Name', tName));
    tokenForm.appendChild(field('Expires in days (0: never)', tDays, 'field-num'));
    tokenForm.appendChild(button('Create token', 'btn-primary', 'submit'));
    var tokenMsg = msgBox(); tokenMsg.id = 'token-result';
    var tokenList = el('ul', 'admin-list');
    tokenList.id = 'admin-token-list';
    tokenList.setAttribute('aria-label', 'API tokens');
    tokensSec.appendChild(tokenForm);
    tokensSec.appendChild(tokenMsg);
    tokensSec.appendChild(tokenList);
    tokenForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      P.api('POST', '/api/admin/tokens', { agent: tAgent.value, name: tName.value.trim(), expires_in_days: parseInt(tDays.value, 10) || 0 }).then(function (r) {
        tName.value = '';
        secret(tokenMsg, 'The token is', r.token, 'Copy it now: it is not shown again.');
        return reload();
      }, function (e) { say(tokenMsg, e.message, true); });
    });
    function renderTokens() {
      var keep = tAgent.value;
      clear(tAgent);
      state.agents.forEach(function (g) {
        var o = el('option', '', g.name + ' (' + g.email + ')');
        o.value = g.id;
        if (g.id === keep) o.selected = true;
        tAgent.appendChild(o);
      });
      clear(tokenList);
      if (!state.tokens.length) tokenList.appendChild(el('li', 'muted', 'No API tokens yet.'));
      state.tokens.forEach(function (t) {
        var li = el('li', 'admin-row' + (t.expired ? ' is-disabled' : ''));
        var who = el('div', 'admin-who');
        who.appendChild(el('strong', '', t.name || 'Unnamed token'));
        who.appendChild(el('span', 'admin-facts', 'acts as ' + (t.agent_name || t.agent) + ' · made ' + when(t.created) + ' · ' +
          (t.expired ? 'expired ' + when(t.expires) : t.expires ? 'expires ' + when(t.expires) : 'never expires')));
        li.appendChild(who);
        var rv = button('Revoke', 'btn-ghost btn-danger');
        rv.setAttribute('aria-label', 'Revoke ' + (t.name || 'the unnamed token'));
        rv.addEventListener('click', function () {
          P.api('DELETE', '/api/admin/tokens/' + encodeURIComponent(t.id)).then(function () {
            say(tokenMsg, 'Revoked: it no longer works.');
            return reload();
          }, function (e) { say(tokenMsg, e.message, true); });
        });
        var acts = el('div', 'admin-actions');
        acts.appendChild(rv);
        li.appendChild(acts);
        tokenList.appendChild(li);
      });
    }

    // ---- mail
    var mailBtn = button('Send a test mail', 'btn-ghost');
    mailBtn.id = 'mail-test';
    var mailMsg = msgBox(); mailMsg.id = 'mail-result';
    mailSec.appendChild(mailBtn);
    mailSec.appendChild(mailMsg);
    mailBtn.addEventListener('click', function () {
      mailBtn.disabled = true;
      P.api('POST', '/api/admin/mail/test').then(function (r) {
        say(mailMsg, 'Sent to ' + r.to + '. Check the inbox of that address.');
      }, function (e) { say(mailMsg, e.message, true); }).then(function () { mailBtn.disabled = false; });
    });

    reload();
  }

  P.screen('admin', { show: show });
  window.addEventListener('hashchange', function () {
    if (/^#\/admin(\/|$)/.test(location.hash)) return;
    var a = $('admin-link');
    if (a) a.removeAttribute('aria-current');
  });
})();
