/*
 * Playbook chat widget. One file, no dependencies, no build step.
 *
 *   <script src="https://HOST/widget.js" data-playbook="website-sales"
 *           data-color="#0b7a75" data-position="right" async></script>
 *
 * Talks to the Playbook server the script came from: POST /api/widget/match
 * for a proactive campaign, and the websocket /ws/visitor (docs/protocol.md).
 * Everything the server or the visitor wrote is inserted as text, never as
 * HTML. The UI lives in a shadow root, so the site's CSS cannot reach it.
 *
 * window.Playbook = {open(), close(), start(playbookId)}.
 */
(function () {
  'use strict';
  var W = window, D = document;
  if (W.Playbook && W.Playbook.version) return; // the tag is on the page twice
  var queued = (W.Playbook && W.Playbook.q) || [];

  var script = D.currentScript || (function () {
    var all = D.querySelectorAll('script[src*="widget.js"]');
    return all[all.length - 1];
  })();
  if (!script || !W.WebSocket || !W.URL) return;

  // The server is where the script came from (a path prefix is kept).
  var base = new URL('./', new URL(script.getAttribute('src'), location.href));
  if (/\/static\/$/.test(base.pathname)) base = new URL('../', base);
  var BASE = base.href;
  var WS_URL = BASE.replace(/^http/, 'ws') + 'ws/visitor';
  var ds = script.dataset || {};
  var CONF = {
    playbook: ds.playbook || '',
    color: ds.color || '',
    position: ds.position === 'left' ? 'left' : 'right'
  };
  var DEFAULT_COLOR = '#2d5be3';
  var PACE_MS = 650;      // gap between bot bubbles of one live burst
  var MAX_CACHED = 300;   // transcript entries kept in localStorage

  // ---- UI strings ----------------------------------------------------
  var STRINGS = {
    en: {
      open: 'Open chat', close: 'Close chat', dismiss: 'Dismiss', send: 'Send',
      placeholder: 'Write a message…', reconnecting: 'Reconnecting…',
      ended: 'Conversation ended', restart: 'Start a new conversation',
      handoff: 'Connecting you with {team}…', handoffAny: 'Connecting you with our team…', joined: '{name} joined', left: '{name} left',
      subBot: 'Replies instantly', subWaiting: 'Waiting for a teammate…', subAgent: 'Live chat',
      sending: 'Sending…', sent: 'Sent', failed: 'Not sent. Retry', agent: 'Agent',
      phEmail: 'name@company.com', phPhone: '+1 415 555 0100', phNumber: 'Type a number',
      phDate: 'YYYY-MM-DD', phUrl: 'https://…',
      hEmail: 'That doesn’t look like an email address, like name@company.com. Send again to send it anyway.',
      hNumber: 'Please answer with a number, like 2500.',
      hPhone: 'That doesn’t look like a phone number, like +1 415 555 0100. Send again to send it anyway.',
      hDate: 'A date, like 2026-03-01', tooLong: 'That message is too long (4,000 characters at most).',
      yes: 'Yes', no: 'No', newMessages: '{n} new messages',
      errRate: 'You’re sending messages quickly. Please wait a moment.',
      errRetry: 'Couldn’t send that just now. Trying again…',
      errPlaybook: 'This chat is not available right now.',
      errGeneric: 'Something went wrong. Please try again.', powered: 'Powered by',
      resolved: 'Conversation closed', reopened: 'Conversation reopened', rateQ: 'How was your conversation?', star: '{n} out of 5',
      commentPh: 'Tell us more (optional)', thanks: 'Thanks for your feedback!', deleted: 'This message was deleted',
      emailMe: 'Email me the transcript', sentTo: 'Transcript sent to {email}',
      mailLater: 'We couldn’t email the transcript just now. Please try again later.',
      mailWrong: 'The transcript can only go to the email address you gave us.',
      mailDone: 'The transcript has already been emailed.', mailOff: 'Email isn’t available here.',
      queueN: "You're number {n} in line", queue1: "You're next in line", leave: 'Leave a message instead',
      waitMin: 'Usual wait: under a minute', waitN: 'Usual wait: about {n} min'
    },
    es: {
      open: 'Abrir el chat', close: 'Cerrar el chat', dismiss: 'Descartar', send: 'Enviar',
      placeholder: 'Escribe un mensaje…', reconnecting: 'Reconectando…',
      ended: 'Conversación finalizada', restart: 'Iniciar una nueva conversación',
      handoff: 'Te estamos conectando con {team}…', handoffAny: 'Te estamos conectando con nuestro equipo…', joined: '{name} se ha unido', left: '{name} ha salido',
      subBot: 'Responde al instante', subWaiting: 'Esperando a un compañero…', subAgent: 'Chat en vivo',
      sending: 'Enviando…', sent: 'Enviado', failed: 'No enviado. Reintentar', agent: 'Agente',
      phEmail: 'nombre@empresa.com', phPhone: '+34 600 000 000', phNumber: 'Escribe un número',
      phDate: 'AAAA-MM-DD', phUrl: 'https://…',
      hEmail: 'Eso no parece un correo, como nombre@empresa.com. Envíalo de nuevo para mandarlo igualmente.',
      hNumber: 'Responde con un número, como 2500.',
      hPhone: 'Eso no parece un teléfono, como +34 600 000 000. Envíalo de nuevo para mandarlo igualmente.',
      hDate: 'Una fecha, como 2026-03-01', tooLong: 'El mensaje es demasiado largo (4.000 caracteres como máximo).',
      yes: 'Sí', no: 'No', newMessages: '{n} mensajes nuevos',
      errRate: 'Estás enviando mensajes muy rápido. Espera un momento.',
      errRetry: 'No se pudo enviar. Reintentando…',
      errPlaybook: 'Este chat no está disponible ahora mismo.',
      errGeneric: 'Algo salió mal. Inténtalo de nuevo.', powered: 'Con la tecnología de',
      resolved: 'Conversación cerrada', reopened: 'Conversación reabierta', rateQ: '¿Qué tal fue la conversación?', star: '{n} de 5',
      commentPh: 'Cuéntanos más (opcional)', thanks: '¡Gracias por tu opinión!', deleted: 'Este mensaje se ha eliminado',
      emailMe: 'Enviarme la conversación por correo', sentTo: 'Conversación enviada a {email}',
      mailLater: 'No pudimos enviar la conversación ahora. Inténtalo más tarde.',
      mailWrong: 'La conversación solo puede ir al correo que nos diste.',
      mailDone: 'La conversación ya se envió por correo.', mailOff: 'El correo no está disponible aquí.',
      queueN: 'Eres el número {n} en la cola', queue1: 'Eres el siguiente en la cola', leave: 'Dejar un mensaje',
      waitMin: 'Espera habitual: menos de un minuto', waitN: 'Espera habitual: unos {n} min'
    },
    fr: {
      open: 'Ouvrir le chat', close: 'Fermer le chat', dismiss: 'Ignorer', send: 'Envoyer',
      placeholder: 'Écrivez un message…', reconnecting: 'Reconnexion…',
      ended: 'Conversation terminée', restart: 'Démarrer une nouvelle conversation',
      handoff: 'Nous vous mettons en relation avec {team}…', handoffAny: 'Nous vous mettons en relation avec notre équipe…', joined: '{name} a rejoint la conversation', left: '{name} est parti',
      subBot: 'Répond immédiatement', subWaiting: 'En attente d’un conseiller…', subAgent: 'Chat en direct',
      sending: 'Envoi…', sent: 'Envoyé', failed: 'Non envoyé. Réessayer', agent: 'Conseiller',
      phEmail: 'nom@entreprise.fr', phPhone: '+33 6 12 34 56 78', phNumber: 'Saisissez un nombre',
      phDate: 'AAAA-MM-JJ', phUrl: 'https://…',
      hEmail: 'Cela ne ressemble pas à une adresse e-mail, comme nom@entreprise.fr. Renvoyez pour l’envoyer quand même.',
      hNumber: 'Répondez par un nombre, comme 2500.',
      hPhone: 'Cela ne ressemble pas à un numéro, comme +33 6 12 34 56 78. Renvoyez pour l’envoyer quand même.',
      hDate: 'Une date, comme 2026-03-01', tooLong: 'Ce message est trop long (4 000 caractères au plus).',
      yes: 'Oui', no: 'Non', newMessages: '{n} nouveaux messages',
      errRate: 'Vous envoyez des messages très vite. Patientez un instant.',
      errRetry: 'Envoi impossible pour le moment. Nouvel essai…',
      errPlaybook: 'Ce chat n’est pas disponible pour le moment.',
      errGeneric: 'Un problème est survenu. Veuillez réessayer.', powered: 'Propulsé par',
      resolved: 'Conversation clôturée', reopened: 'Conversation rouverte', rateQ: 'Comment s’est passée la conversation ?', star: '{n} sur 5',
      commentPh: 'Dites-nous en plus (facultatif)', thanks: 'Merci pour votre avis !', deleted: 'Ce message a été supprimé',
      emailMe: 'Recevoir la conversation par e-mail', sentTo: 'Conversation envoyée à {email}',
      mailLater: 'Impossible d’envoyer la conversation pour le moment. Réessayez plus tard.',
      mailWrong: 'La conversation ne peut être envoyée qu’à l’adresse que vous nous avez donnée.',
      mailDone: 'La conversation a déjà été envoyée par e-mail.', mailOff: 'L’e-mail n’est pas disponible ici.',
      queueN: 'Vous êtes n° {n} dans la file', queue1: 'Vous êtes le prochain dans la file', leave: 'Laisser plutôt un message',
      waitMin: 'Attente habituelle : moins d’une minute', waitN: 'Attente habituelle : environ {n} min'
    },
    de: {
      open: 'Chat öffnen', close: 'Chat schließen', dismiss: 'Ausblenden', send: 'Senden',
      placeholder: 'Nachricht schreiben…', reconnecting: 'Verbindung wird wiederhergestellt…',
      ended: 'Unterhaltung beendet', restart: 'Neue Unterhaltung starten',
      handoff: 'Wir verbinden Sie mit {team}…', handoffAny: 'Wir verbinden Sie mit unserem Team…', joined: '{name} ist beigetreten', left: '{name} hat den Chat verlassen',
      subBot: 'Antwortet sofort', subWaiting: 'Warten auf einen Mitarbeiter…', subAgent: 'Live-Chat',
      sending: 'Wird gesendet…', sent: 'Gesendet', failed: 'Nicht gesendet. Erneut versuchen', agent: 'Mitarbeiter',
      phEmail: 'name@firma.de', phPhone: '+49 30 1234567', phNumber: 'Zahl eingeben',
      phDate: 'JJJJ-MM-TT', phUrl: 'https://…',
      hEmail: 'Das sieht nicht wie eine E-Mail-Adresse aus, z. B. name@firma.de. Erneut senden, um sie trotzdem zu schicken.',
      hNumber: 'Bitte mit einer Zahl antworten, z. B. 2500.',
      hPhone: 'Das sieht nicht wie eine Telefonnummer aus, z. B. +49 30 1234567. Erneut senden, um sie trotzdem zu schicken.',
      hDate: 'Ein Datum, z. B. 2026-03-01', tooLong: 'Die Nachricht ist zu lang (höchstens 4.000 Zeichen).',
      yes: 'Ja', no: 'Nein', newMessages: '{n} neue Nachrichten',
      errRate: 'Sie senden sehr schnell. Bitte warten Sie einen Moment.',
      errRetry: 'Senden gerade nicht möglich. Neuer Versuch…',
      errPlaybook: 'Dieser Chat ist gerade nicht verfügbar.',
      errGeneric: 'Etwas ist schiefgelaufen. Bitte erneut versuchen.', powered: 'Bereitgestellt von',
      resolved: 'Unterhaltung abgeschlossen', reopened: 'Unterhaltung wieder geöffnet', rateQ: 'Wie war die Unterhaltung?', star: '{n} von 5',
      commentPh: 'Erzählen Sie mehr (optional)', thanks: 'Danke für Ihr Feedback!', deleted: 'Diese Nachricht wurde gelöscht',
      emailMe: 'Verlauf per E-Mail senden', sentTo: 'Verlauf an {email} gesendet',
      mailLater: 'Der Verlauf konnte gerade nicht gesendet werden. Bitte später erneut versuchen.',
      mailWrong: 'Der Verlauf kann nur an die E-Mail-Adresse gehen, die Sie uns genannt haben.',
      mailDone: 'Der Verlauf wurde bereits per E-Mail gesendet.', mailOff: 'E-Mail ist hier nicht verfügbar.',
      queueN: 'Sie sind Nummer {n} in der Warteschlange', queue1: 'Sie sind als Nächstes dran', leave: 'Stattdessen eine Nachricht hinterlassen',
      waitMin: 'Übliche Wartezeit: unter einer Minute', waitN: 'Übliche Wartezeit: etwa {n} Min.'
    }
  };
  function langOf(tag) {
    var l = String(tag || '').toLowerCase().split(/[-_]/)[0];
    return STRINGS[l] ? l : '';
  }
  var BROWSER_LOCALE = navigator.language || (navigator.languages && navigator.languages[0]) || 'en';
  var UI_LANG = langOf(BROWSER_LOCALE) || 'en';
  function t(key, vars, lang) {
    var s = (STRINGS[lang || UI_LANG] || STRINGS.en)[key] || STRINGS.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? String(vars[k]) : ''; });
  }

  // ---- storage -------------------------------------------------------
  function getJSON(store, k) {
    try { var v = W[store].getItem(k); return v ? JSON.parse(v) : null; } catch (e) { return null; }
  }
  function setJSON(store, k, v) {
    try { if (v == null) W[store].removeItem(k); else W[store].setItem(k, JSON.stringify(v)); } catch (e) { /* full or disabled */ }
  }

  // A visit is a browsing session: a gap of 30 minutes starts a new one.
  var VKEY = 'playbook:visitor';
  var visitor = (function () {
    var v = getJSON('localStorage', VKEY) || {};
    var now = Date.now();
    if (!v.visits || now - (v.last || 0) > 30 * 60 * 1000) v.visits = (v.visits || 0) + 1;
    v.last = now;
    // A random id kept in this browser: A/B experiments put the same
    // visitor in the same variant every time (docs/language.md).
    if (!v.id) v.id = randomId();
    setJSON('localStorage', VKEY, v);
    var out = { id: v.id, returning: v.visits > 1 || !!v.chatted, visits: v.visits, referrer: (D.referrer || '').slice(0, 500) };
    try {
      var utm = {}, any = false;
      new URLSearchParams(location.search).forEach(function (val, k) {
        if (k.indexOf('utm_') === 0 && val) { utm[k.slice(4)] = val.slice(0, 200); any = true; }
      });
      if (any) out.utm = utm;
    } catch (e) { /* old browser */ }
    return out;
  })();
  function randomId() {
    var b = new Uint8Array(12), s = 'v_';
    try { W.crypto.getRandomValues(b); } catch (e) { for (var j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256); }
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
    return s;
  }
  function markChatted() {
    var v = getJSON('localStorage', VKEY) || {};
    if (!v.chatted) { v.chatted = true; setJSON('localStorage', VKEY, v); }
  }

  // ---- small helpers -------------------------------------------------
  function el(tag, cls, text) {
    var n = D.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  var SVGNS = 'http://www.w3.org/2000/svg';
  var ICONS = {
    chat: 'M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16.8A2.5 2.5 0 0 1 4 14.5z',
    down: 'M6 9l6 6 6-6',
    close: 'M6 6l12 12M18 6L6 18',
    send: 'M4.5 12h13M12.5 6l6 6-6 6',
    ext: 'M14 5h5v5M19 5l-8 8M17 14v4a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h4',
    clip: 'M20 11.5l-7.8 7.8a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4L15 6.9',
    file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5'
  };
  function icon(name, filled) {
    var s = D.createElementNS(SVGNS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    s.setAttribute('class', 'pb-i pb-i-' + name);
    var p = D.createElementNS(SVGNS, 'path');
    p.setAttribute('d', ICONS[name]);
    if (filled) { p.setAttribute('fill', 'currentColor'); } else {
      p.setAttribute('fill', 'none'); p.setAttribute('stroke', 'currentColor');
      p.setAttribute('stroke-width', '2'); p.setAttribute('stroke-linecap', 'round'); p.setAttribute('stroke-linejoin', 'round');
    }
    s.appendChild(p);
    return s;
  }
  // safeURL resolves u against the server and keeps only the schemes given.
  function safeURL(u, schemes) {
    try {
      var x = new URL(String(u || ''), BASE);
      return schemes.indexOf(x.protocol) >= 0 ? x.href : '';
    } catch (e) { return ''; }
  }
  var LINK_SCHEMES = ['http:', 'https:', 'mailto:', 'tel:'];
  var IMG_SCHEMES = ['http:', 'https:'];
  function newID() {
    if (W.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    (W.crypto || W.msCrypto).getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }
  function cmpID(a, b) { // Redis stream ids: "ms-seq"
    var x = String(a).split('-'), y = String(b).split('-');
    return (+x[0] - +y[0]) || ((+x[1] || 0) - (+y[1] || 0));
  }
  var reduceMotion = W.matchMedia && W.matchMedia('(prefers-reduced-motion: reduce)').matches;

  // Colors: the text on the accent and an accent dark enough for text on
  // white are picked for contrast (WCAG AA).
  function rgbOf(c) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(c || '').trim());
    if (!m) return null;
    var h = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  }
  function lum(rgb) {
    var w = [0.2126, 0.7152, 0.0722], s = 0;
    for (var i = 0; i < 3; i++) {
      var v = rgb[i] / 255;
      s += w[i] * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    }
    return s;
  }
  function contrast(a, b) { var x = lum(a) + 0.05, y = lum(b) + 0.05; return x > y ? x / y : y / x; }
  function css(rgb) { return 'rgb(' + rgb.map(Math.round).join(',') + ')'; }
  function applyColor(c) {
    var rgb = rgbOf(c) || rgbOf(CONF.color) || rgbOf(DEFAULT_COLOR);
    var white = [255, 255, 255], dark = [17, 24, 39];
    var onWhite = contrast(rgb, white) >= 4.5 || contrast(rgb, white) >= contrast(rgb, dark);
    var ink = rgb.slice();
    for (var i = 0; i < 20 && contrast(ink, white) < 4.6; i++) ink = ink.map(function (v) { return v * 0.88; });
    var st = ui.root.style;
    st.setProperty('--pb-accent', css(rgb));
    st.setProperty('--pb-on-accent', onWhite ? '#fff' : css(dark));
    st.setProperty('--pb-ink', css(ink));
    st.setProperty('--pb-soft', 'rgba(' + rgb.join(',') + ',.1)');
    st.setProperty('--pb-halo', 'rgba(' + rgb.join(',') + ',.22)');
    st.setProperty('--pb-ring', onWhite ? 'rgba(255,255,255,.9)' : css(dark));
  }

  // ---- styles --------------------------------------------------------
  var CSS = [
    ':host{all:initial}',
    '.pb{--pb-accent:#2d5be3;--pb-on-accent:#fff;--pb-ink:#2d5be3;--pb-soft:rgba(45,91,227,.1);--pb-ring:#fff;',
    'font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1b1f24;-webkit-font-smoothing:antialiased;-webkit-text-size-adjust:100%}',
    '.pb *,.pb *::before,.pb *::after{box-sizing:border-box}',
    ':where(.pb) button{font:inherit;color:inherit;margin:0}',
    '.pb :focus{outline:none}',
    '.pb :focus-visible{outline:3px solid var(--pb-ink);outline-offset:2px}',
    '.pb-i{width:20px;height:20px;display:block}',
    // launcher
    '.pb-launcher{position:fixed;bottom:20px;right:20px;width:60px;height:60px;border:0;border-radius:50%;padding:0;cursor:pointer;',
    'background:var(--pb-accent);color:var(--pb-on-accent);box-shadow:0 2px 6px rgba(0,0,0,.12),0 10px 28px rgba(0,0,0,.18);',
    'display:grid;place-items:center;z-index:2147483000;transition:transform .2s ease,box-shadow .2s ease}',
    '.pb-left .pb-launcher{left:20px;right:auto}',
    '.pb-launcher:hover{transform:scale(1.06)}',
    '.pb-launcher:focus-visible{outline-color:var(--pb-ink);outline-offset:3px}',
    '.pb-launcher .pb-i{grid-area:1/1;width:28px;height:28px;transition:transform .25s ease,opacity .2s ease}',
    '.pb-launcher .pb-i-down{opacity:0;transform:rotate(-90deg)}',
    '.pb-open .pb-launcher .pb-i-chat{opacity:0;transform:rotate(90deg) scale(.6)}',
    '.pb-open .pb-launcher .pb-i-down{opacity:1;transform:none}',
    '.pb-badge{position:absolute;top:-3px;right:-3px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#d92d20;color:#fff;',
    'font-size:12px;font-weight:700;line-height:18px;text-align:center;border:2px solid #fff}',
    '.pb-badge[hidden]{display:none}',
    // campaign bubble
    '.pb-campaign{position:fixed;bottom:92px;right:20px;width:300px;max-width:calc(100vw - 40px);z-index:2147483000;',
    'animation:pb-pop .3s ease both}',
    '.pb-left .pb-campaign{left:20px;right:auto}',
    '.pb-campaign[hidden]{display:none}',
    '.pb-camp-body{display:flex;gap:12px;align-items:flex-start;width:100%;text-align:left;cursor:pointer;background:#fff;border:0;',
    'border-radius:16px;padding:14px 16px;box-shadow:0 2px 6px rgba(0,0,0,.08),0 12px 32px rgba(0,0,0,.16);font-size:14.5px;color:#1b1f24}',
    '.pb-camp-body:hover{box-shadow:0 2px 6px rgba(0,0,0,.1),0 16px 40px rgba(0,0,0,.2)}',
    '.pb-camp-body .pb-av{width:36px;height:36px;font-size:15px}',
    '.pb-camp-name{display:block;font-size:12.5px;color:#57606a;margin-bottom:2px}',
    '.pb-camp-x{position:absolute;top:-10px;right:-10px;width:28px;height:28px;border-radius:50%;border:0;padding:0;cursor:pointer;',
    'background:#fff;color:#57606a;box-shadow:0 1px 4px rgba(0,0,0,.2);display:grid;place-items:center}',
    '.pb-camp-x .pb-i{width:14px;height:14px}',
    '.pb-camp-x:hover{color:#1b1f24}',
    // window
    '.pb-window{position:fixed;bottom:92px;right:20px;width:384px;height:min(660px,calc(100vh - 116px));height:min(660px,calc(100dvh - 116px));',
    'min-height:320px;background:#fff;border-radius:18px;overflow:hidden;display:flex;flex-direction:column;z-index:2147483000;',
    'box-shadow:0 4px 12px rgba(0,0,0,.08),0 24px 64px rgba(0,0,0,.18);opacity:0;visibility:hidden;transform:translateY(14px) scale(.98);',
    'transform-origin:bottom right;transition:opacity .2s ease,transform .2s ease,visibility 0s linear .2s}',
    '.pb-left .pb-window{left:20px;right:auto;transform-origin:bottom left}',
    '.pb-open .pb-window{opacity:1;visibility:visible;transform:none;transition-delay:0s}',
    // header
    '.pb-header{display:flex;align-items:center;gap:12px;padding:16px 12px 16px 18px;background:var(--pb-accent);color:var(--pb-on-accent);flex:none}',
    '.pb-header .pb-av{width:42px;height:42px;font-size:18px;box-shadow:0 0 0 2px rgba(255,255,255,.55)}',
    '.pb-titles{flex:1;min-width:0}',
    '.pb-title{margin:0;font-size:16.5px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
    '.pb-sub{margin:2px 0 0;font-size:13px;line-height:1.3;display:flex;align-items:center;gap:6px}',
    '.pb-dot{width:8px;height:8px;border-radius:50%;background:#3ccf7c;box-shadow:0 0 0 2px rgba(255,255,255,.6);flex:none}',
    '.pb-recon .pb-dot{background:#f5a524}',
    '.pb-close{width:40px;height:40px;border-radius:12px;border:0;padding:0;background:transparent;cursor:pointer;display:grid;place-items:center;flex:none}',
    '.pb-close:hover{background:rgba(127,127,127,.22)}',
    '.pb-header :focus-visible{outline-color:var(--pb-ring);outline-offset:-3px}',
    // avatars
    '.pb-av{width:28px;height:28px;border-radius:50%;flex:none;overflow:hidden;display:grid;place-items:center;',
    'background:var(--pb-accent);color:var(--pb-on-accent);font-weight:650;font-size:13px;text-transform:uppercase}',
    '.pb-av img{width:100%;height:100%;object-fit:cover;display:block}',
    '.pb-av-agent{background:#39424e;color:#fff}',
    // log
    '.pb-log{flex:1;overflow-y:auto;overflow-x:hidden;overscroll-behavior:contain;padding:18px 14px 8px;background:#fff}',
    '.pb-row{display:flex;align-items:flex-end;gap:8px;margin-top:14px}',
    '.pb-row.pb-cont{margin-top:4px}',
    '.pb-row .pb-av{visibility:hidden}',
    '.pb-row.pb-tail .pb-av{visibility:visible}',
    '.pb-stack{display:flex;flex-direction:column;align-items:flex-start;min-width:0;max-width:82%}',
    '.pb-author{font-size:12.5px;color:#57606a;margin:0 0 3px 4px}',
    '.pb-cont .pb-author{display:none}',
    '.pb-bubble{padding:9px 14px;border-radius:18px;background:#f0f2f5;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;max-width:100%}',
    '.pb-bot .pb-bubble,.pb-agent .pb-bubble{border-bottom-left-radius:6px}',
    '.pb-bot.pb-cont .pb-bubble,.pb-agent.pb-cont .pb-bubble{border-top-left-radius:6px}',
    '.pb-bubble a{color:inherit;text-decoration:underline;text-underline-offset:2px}',
    '.pb-visitor{justify-content:flex-end}',
    '.pb-visitor .pb-stack{align-items:flex-end}',
    '.pb-visitor .pb-bubble{background:var(--pb-accent);color:var(--pb-on-accent);border-bottom-right-radius:6px}',
    '.pb-visitor.pb-cont .pb-bubble{border-top-right-radius:6px}',
    '.pb-pending .pb-bubble{opacity:.7}',
    '.pb-failed .pb-bubble{background:#fde8e7;color:#8a1c13}',
    '.pb-meta{font-size:11.5px;color:#57606a;margin:3px 4px 0;border:0;background:none;padding:0}',
    'button.pb-meta{color:#b42318;cursor:pointer;text-decoration:underline}',
    '.pb-img{display:block;max-width:100%;max-height:240px;margin-top:6px;border-radius:14px;border:1px solid #e6e8eb;background:#f6f7f9}',
    '.pb-links,.pb-btns{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}',
    '.pb-links{flex-direction:column;align-items:flex-start}',
    '.pb-link{display:inline-flex;align-items:center;gap:6px;padding:8px 14px;border-radius:12px;border:1px solid #dfe2e6;background:#fff;',
    'color:var(--pb-ink);font-weight:550;text-decoration:none;max-width:100%;overflow-wrap:anywhere}',
    '.pb-link:hover{background:var(--pb-soft);border-color:var(--pb-ink)}',
    '.pb-link .pb-i{width:15px;height:15px;flex:none}',
    '.pb-btn{border:1.5px solid var(--pb-ink);background:#fff;color:var(--pb-ink);border-radius:999px;padding:7px 15px;cursor:pointer;',
    'font-weight:550;line-height:1.3;text-align:left;max-width:100%;overflow-wrap:anywhere;transition:background .15s ease,color .15s ease}',
    '.pb-btn:hover:not(:disabled){background:var(--pb-accent);border-color:var(--pb-accent);color:var(--pb-on-accent)}',
    '.pb-btn:disabled{cursor:default;border-color:#d0d5db;color:#6b737d;background:#fff}',
    '.pb-btn.pb-chosen:disabled{border-color:var(--pb-ink);color:var(--pb-ink);background:var(--pb-soft)}',
    '.pb-sys{margin:16px 8px 4px;text-align:center;font-size:12.5px;color:#57606a;display:flex;align-items:center;gap:10px}',
    '.pb-sys::before,.pb-sys::after{content:"";flex:1;height:1px;background:#e6e8eb}',
    '.pb-sys-error{color:#b42318}',
    '.pb-typing{display:flex;align-items:flex-end;gap:8px;margin-top:8px}',
    '.pb-typing[hidden]{display:none}',
    '.pb-dots{display:flex;gap:4px;padding:13px 14px;border-radius:18px;border-bottom-left-radius:6px;background:#f0f2f5}',
    '.pb-dots i{width:7px;height:7px;border-radius:50%;background:#8a929c;animation:pb-blink 1.2s infinite ease-in-out both}',
    '.pb-dots i:nth-child(2){animation-delay:.15s}.pb-dots i:nth-child(3){animation-delay:.3s}',
    // footer: notice, ended, composer
    '.pb-notice{margin:0 14px 6px;padding:7px 12px;border-radius:10px;background:#fff4e5;color:#7a3e00;font-size:13px}',
    '.pb-notice[hidden],.pb-hint[hidden],.pb-endbar[hidden],.pb-composer[hidden],.pb-queue[hidden]{display:none}',
    '.pb-queue{margin:0 14px 6px;padding:7px 12px;border-radius:10px;background:#f0f2f5;color:var(--pb-ink);font-size:13px;display:flex;align-items:center;justify-content:space-between;gap:8px;flex-wrap:wrap}',
    '.pb-queue-info{display:flex;flex-direction:column;gap:2px}.pb-queue-est{font-size:12px;color:#4a5058}.pb-queue-est[hidden]{display:none}',
    '.pb-leave{border:0;background:none;padding:2px 0;color:var(--pb-ink);font-size:13px;text-decoration:underline;text-underline-offset:2px;cursor:pointer}',
    '.pb-endbar{padding:10px 14px 12px;border-top:1px solid #eceef1;display:flex;flex-direction:column;align-items:center;gap:6px}',
    '.pb-linkbtn{border:0;background:none;padding:4px 6px;color:var(--pb-ink);font-size:13.5px;text-decoration:underline;text-underline-offset:2px;cursor:pointer}',
    '.pb-mailform{display:flex;gap:8px;width:100%}',
    '.pb-mailform[hidden],.pb-linkbtn[hidden],.pb-rate [hidden]{display:none}',
    '.pb-row .pb-bubble.pb-deleted{font-style:italic;color:#57606a;background:#fff;border:1px dashed #bfc5cc}',
    '.pb-bubble strong{font-weight:650}',
    '.pb-rate{margin:12px 8px 4px;padding:14px 16px;border:1px solid #e6e8eb;border-radius:16px;text-align:center;background:#fafbfc}',
    '.pb-rate p{margin:0 0 8px;font-weight:600}',
    '.pb-stars{display:flex;justify-content:center;gap:4px}',
    '.pb-star{border:0;background:none;padding:2px 4px;cursor:pointer;color:#8a929c;font-size:28px;line-height:1;transition:transform .1s ease}',
    '.pb-star:hover{transform:scale(1.12)}',
    '.pb-star.pb-on{color:#e89b0c}',
    '.pb-rate textarea{display:block;width:100%;margin:10px 0 8px;font:inherit;font-size:16px;padding:8px 12px;border:1px solid #dfe2e6;border-radius:12px;resize:vertical;min-height:60px}',
    '.pb-rate textarea:focus{border-color:var(--pb-ink);outline:none;box-shadow:0 0 0 3px var(--pb-halo)}',
    '.pb-restart{border:0;border-radius:999px;padding:10px 18px;background:var(--pb-accent);color:var(--pb-on-accent);font-weight:600;cursor:pointer}',
    '.pb-restart:focus-visible{outline-color:var(--pb-ink)}',
    '.pb-composer{display:flex;align-items:center;gap:8px;padding:10px 12px 10px 14px;border-top:1px solid #eceef1;flex:none;background:#fff}',
    '.pb-input,.pb-field{flex:1;min-width:0;font:inherit;font-size:16px;line-height:1.3;color:#1b1f24;background:#f6f7f9;border:1px solid #dfe2e6;',
    'border-radius:22px;padding:10px 16px;outline:none;transition:border-color .15s ease,box-shadow .15s ease,background .15s ease;-webkit-appearance:none;appearance:none}',
    '.pb-input::placeholder,.pb-field::placeholder{color:#6b737d}',
    '.pb .pb-input:focus-visible,.pb .pb-field:focus-visible{outline:none}',
    '.pb-input:focus,.pb-field:focus{background:#fff;border-color:var(--pb-ink);box-shadow:0 0 0 3px var(--pb-halo)}',
    '.pb-input[aria-invalid=true],.pb-field[aria-invalid=true]{border-color:#b42318;box-shadow:0 0 0 3px rgba(180,35,24,.12)}',
    '.pb-send{width:42px;height:42px;border-radius:50%;border:0;padding:0;flex:none;cursor:pointer;display:grid;place-items:center;',
    'background:var(--pb-accent);color:var(--pb-on-accent);transition:opacity .15s ease,transform .15s ease}',
    '.pb-send:disabled{opacity:.35;cursor:default}',
    '.pb-send:not(:disabled):hover{transform:scale(1.05)}',
    '.pb-hint{margin:-2px 16px 8px;font-size:12.5px;color:#57606a}',
    '.pb-hint.pb-bad{color:#b42318}',
    '.pb-brand{flex:none;text-align:center;font-size:11.5px;color:#6b737d;padding:0 0 8px;padding-bottom:max(8px,env(safe-area-inset-bottom))}',
    '.pb-brand a{color:#454c55;font-weight:600;text-decoration:none}',
    '.pb-brand a:hover{text-decoration:underline}',
    '.pb-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}',
    '@keyframes pb-blink{0%,80%,100%{opacity:.35;transform:translateY(0)}40%{opacity:1;transform:translateY(-3px)}}',
    '@keyframes pb-pop{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}',
    '@keyframes pb-in{from{opacity:0;transform:translateY(6px)}to{opacity:1;transform:none}}',
    '.pb-live{animation:pb-in .22s ease both}',
    // phones: the window takes the whole screen
    '@media (max-width:479.98px){',
    '.pb-window,.pb-left .pb-window{inset:0;left:0;right:0;top:0;bottom:0;width:100%;height:100%;max-height:none;min-height:0;border-radius:0}',
    '.pb-open .pb-launcher{display:none}',
    '.pb-header{padding-top:max(16px,env(safe-area-inset-top))}',
    '.pb-campaign,.pb-left .pb-campaign{right:16px;left:16px;width:auto;bottom:88px}',
    '.pb-stack{max-width:86%}}',
    '@media (prefers-reduced-motion:reduce){.pb *,.pb *::before,.pb *::after{animation:none!important;transition:none!important;scroll-behavior:auto!important}',
    '.pb-dots i{opacity:.6}}',
    '@media (forced-colors:active){.pb-bubble,.pb-btn,.pb-link,.pb-input{border:1px solid CanvasText}}'
  ].join('\n');

  // ---- pre-chat form: strings and styles (docs/language.md, "prechat") --
  var PRECHAT_STRINGS = {
    en: { pcName: 'Name', pcEmail: 'Email', pcPhone: 'Phone', pcStart: 'Start chat', pcOptional: '(optional)',
      pcRequired: 'Please fill this in.', pcTick: 'Please tick this box to go on.',
      pcEmailBad: 'That doesn’t look like an email address, like name@company.com.', pcPhoneBad: 'That doesn’t look like a phone number, like +1 415 555 0100.' },
    es: { pcName: 'Nombre', pcEmail: 'Correo', pcPhone: 'Teléfono', pcStart: 'Empezar el chat', pcOptional: '(opcional)',
      pcRequired: 'Rellena este campo.', pcTick: 'Marca esta casilla para continuar.',
      pcEmailBad: 'Eso no parece un correo, como nombre@empresa.com.', pcPhoneBad: 'Eso no parece un teléfono, como +34 600 000 000.' },
    fr: { pcName: 'Nom', pcEmail: 'E-mail', pcPhone: 'Téléphone', pcStart: 'Démarrer le chat', pcOptional: '(facultatif)',
      pcRequired: 'Veuillez remplir ce champ.', pcTick: 'Cochez cette case pour continuer.',
      pcEmailBad: 'Cela ne ressemble pas à une adresse e-mail, comme nom@entreprise.fr.', pcPhoneBad: 'Cela ne ressemble pas à un numéro, comme +33 6 12 34 56 78.' },
    de: { pcName: 'Name', pcEmail: 'E-Mail', pcPhone: 'Telefon', pcStart: 'Chat starten', pcOptional: '(optional)',
      pcRequired: 'Bitte füllen Sie dieses Feld aus.', pcTick: 'Bitte kreuzen Sie das Kästchen an, um fortzufahren.',
      pcEmailBad: 'Das sieht nicht wie eine E-Mail-Adresse aus, etwa name@firma.de.', pcPhoneBad: 'Das sieht nicht wie eine Telefonnummer aus, etwa +49 30 123456.' }
  };
  Object.keys(PRECHAT_STRINGS).forEach(function (l) {
    if (!STRINGS[l]) return;
    Object.keys(PRECHAT_STRINGS[l]).forEach(function (k) { STRINGS[l][k] = PRECHAT_STRINGS[l][k]; });
  });

  // ---- attachments: strings and styles (docs/protocol.md, "Attachments") --
  var FILE_STRINGS = {
    en: { attach: 'Attach a file', uploading: 'Sending {name}…', fileFailed: '{name} was not sent: {why}', openImage: 'Open {name}',
      dropHere: 'Drop a file to send it', fileGone: 'This file is no longer available.' },
    es: { attach: 'Adjuntar un archivo', uploading: 'Enviando {name}…', fileFailed: '{name} no se envió: {why}', openImage: 'Abrir {name}',
      dropHere: 'Suelta un archivo para enviarlo', fileGone: 'Este archivo ya no está disponible.' },
    fr: { attach: 'Joindre un fichier', uploading: 'Envoi de {name}…', fileFailed: '{name} n’a pas été envoyé : {why}', openImage: 'Ouvrir {name}',
      dropHere: 'Déposez un fichier pour l’envoyer', fileGone: 'Ce fichier n’est plus disponible.' },
    de: { attach: 'Datei anhängen', uploading: '{name} wird gesendet…', fileFailed: '{name} wurde nicht gesendet: {why}', openImage: '{name} öffnen',
      dropHere: 'Datei hier ablegen, um sie zu senden', fileGone: 'Diese Datei ist nicht mehr verfügbar.' }
  };
  Object.keys(FILE_STRINGS).forEach(function (l) {
    if (!STRINGS[l]) return;
    Object.keys(FILE_STRINGS[l]).forEach(function (k) { STRINGS[l][k] = FILE_STRINGS[l][k]; });
  });
  CSS += '\n' + [
    '.pb-attach{width:42px;height:42px;border-radius:50%;border:0;padding:0;flex:none;cursor:pointer;display:grid;place-items:center;background:transparent;color:#4b535c}',
    '.pb-attach:hover{background:#f0f2f4}',
    '.pb-attach[hidden],.pb-fileinput{display:none}',
    '.pb-attach .pb-i{width:22px;height:22px}',
    '.pb-imglink{display:block;margin-top:6px;border-radius:14px;line-height:0}',
    '.pb-imglink .pb-img{margin-top:0}',
    '.pb-file{display:inline-flex;align-items:center;gap:8px;max-width:100%;margin-top:6px;padding:10px 14px;border-radius:14px;border:1px solid #dfe2e6;',
    'background:#fff;color:#1b1f24;text-decoration:none;font-size:14.5px}',
    '.pb-file:hover{border-color:var(--pb-ink)}',
    '.pb-file .pb-i{width:20px;height:20px;flex:none;color:var(--pb-ink)}',
    '.pb-fname{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:600}',
    '.pb-fsize{color:#5b636d;white-space:nowrap}',
    '.pb-visitor .pb-file,.pb-visitor .pb-imglink{align-self:flex-end}',
    '.pb-dropping .pb-window{outline:3px dashed var(--pb-ink);outline-offset:-6px}'
  ].join('\n');
  CSS += '\n' + [
    '.pb-prechat{display:flex;flex-direction:column;gap:12px;margin:4px 2px 8px;padding:14px;border:1px solid #dfe2e6;border-radius:14px;background:#fff}',
    '.pb-pc-intro{margin:0;font-size:14.5px}',
    '.pb-pc-row{display:flex;flex-direction:column;gap:4px}',
    '.pb-pc-row label{font-size:13.5px;font-weight:600;color:#1b1f24}',
    '.pb-pc-opt{font-weight:400;color:#5b636d}',
    '.pb-pc-check{flex-direction:row;flex-wrap:wrap;align-items:flex-start;gap:4px 8px}',
    '.pb-pc-check label{flex:1}',
    '.pb-pc-check .pb-pc-err{flex-basis:100%}',
    '.pb-pc-check input{width:20px;height:20px;margin:1px 0 0;flex:none;accent-color:var(--pb-accent)}',
    '.pb-pc-check label{font-weight:400;font-size:14px}',
    '.pb-pc-check input:focus-visible{outline:2px solid var(--pb-ink);outline-offset:2px}',
    '.pb-pc-err{margin:0;font-size:13px;color:#b42318}',
    '.pb-pc-err:empty{display:none}',
    '.pb-pc-submit{align-self:stretch;min-height:44px;border:0;border-radius:10px;background:var(--pb-accent);color:var(--pb-on-accent);font-weight:600;cursor:pointer}',
    '.pb-pc-submit:focus-visible{outline:2px solid var(--pb-ink);outline-offset:2px}'
  ].join('\n');

  // ---- DOM -----------------------------------------------------------
  var ui = {};
  // h makes an element: props are properties (class, text, on* listeners,
  // or attributes when the name has a dash or is aria/role); kids are
  // appended. Text is always set as text.
  function h(tag, props, kids) {
    var n = D.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      var v = props[k];
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k === 'ref') ui[v] = n;
      else if (/^on/.test(k)) n.addEventListener(k.slice(2), v);
      else if (/-|^role$/.test(k)) n.setAttribute(k, v);
      else n[k] = v;
    });
    (kids || []).forEach(function (c) { n.appendChild(c); });
    return n;
  }
  function build() {
    var host = h('div', { id: 'playbook-widget', 'data-playbook-widget': '' });
    var shadow = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
    try { // a constructed sheet needs no 'unsafe-inline' in the site's CSP
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      shadow.appendChild(h('style', { text: CSS }));
    }
    ui.input = h('input', {
      class: 'pb-input', type: 'text', maxLength: 4000, autocomplete: 'off', placeholder: t('placeholder'),
      'aria-label': t('placeholder'), 'aria-describedby': 'pb-hint', enterKeyHint: 'send',
      oninput: function () {
        ui.send.disabled = !ui.input.value.trim();
        if (S.hintBad) setHint('', false);
        visitorTyping();
      }
    });
    var root = h('div', { ref: 'root', class: 'pb' + (CONF.position === 'left' ? ' pb-left' : ''), lang: UI_LANG }, [
      // the campaign teaser
      h('div', { ref: 'camp', class: 'pb-campaign', hidden: true }, [
        h('button', {
          class: 'pb-camp-body', type: 'button',
          onclick: function () {
            var pid = S.match && S.match.playbook;
            hideCampaign(true);
            if (pid) startPlaybook(pid); else openChat();
          }
        }, [h('span', { ref: 'campAv', class: 'pb-av' }), h('span', {}, [
          h('span', { ref: 'campName', class: 'pb-camp-name' }), h('span', { ref: 'campText', class: 'pb-camp-text' })])]),
        h('button', { class: 'pb-camp-x', type: 'button', 'aria-label': t('dismiss'), onclick: function () { hideCampaign(true); } }, [icon('close')])
      ]),
      // the chat window
      h('div', { ref: 'win', class: 'pb-window', role: 'dialog', 'aria-labelledby': 'pb-title' }, [
        h('div', { class: 'pb-header' }, [
          h('div', { ref: 'headAv', class: 'pb-av' }),
          h('div', { class: 'pb-titles' }, [
            h('h2', { ref: 'title', class: 'pb-title', id: 'pb-title', text: 'Chat' }),
            h('p', { ref: 'sub', class: 'pb-sub' }, [h('span', { ref: 'subDot', class: 'pb-dot' }), h('span', { ref: 'subText', text: t('subBot') })])
          ]),
          h('button', { ref: 'close', class: 'pb-close', type: 'button', 'aria-label': t('close'), onclick: function () { closeChat(); } }, [icon('close')])
        ]),
        h('div', { ref: 'log', class: 'pb-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-labelledby': 'pb-title', tabIndex: 0 }, [
          h('div', { ref: 'typing', class: 'pb-typing', 'aria-hidden': 'true', hidden: true }, [
            h('div', { ref: 'typingAv', class: 'pb-av' }), h('div', { class: 'pb-dots' }, [h('i'), h('i'), h('i')])])
        ]),
        h('div', { ref: 'notice', class: 'pb-notice', role: 'status', hidden: true }),
        // the waiting visitor's place in the queue, and the way out
        h('div', { ref: 'queue', class: 'pb-queue', hidden: true }, [
          h('div', { class: 'pb-queue-info', role: 'status' }, [
            h('span', { ref: 'queueText', class: 'pb-queue-text' }),
            h('span', { ref: 'queueEst', class: 'pb-queue-est', hidden: true })]),
          h('button', { ref: 'leave', class: 'pb-leave', type: 'button', text: t('leave'), onclick: function () { leaveMessage(); } })]),
        h('div', { ref: 'endbar', class: 'pb-endbar', hidden: true }, [
          h('button', { ref: 'restart', class: 'pb-restart', type: 'button', text: t('restart'), onclick: function () { restart(); } }),
          h('button', {
            ref: 'mailBtn', class: 'pb-linkbtn', type: 'button', text: t('emailMe'), hidden: true,
            onclick: function () { ui.mailBtn.hidden = true; ui.mailForm.hidden = false; ui.mailInput.focus(); }
          }),
          h('form', {
            ref: 'mailForm', class: 'pb-mailform', hidden: true, noValidate: true,
            onsubmit: function (ev) {
              ev.preventDefault();
              var to = ui.mailInput.value.trim();
              if (check(to, 'email')) { ui.mailInput.setAttribute('aria-invalid', 'true'); return; }
              S.mailTo = to;
              S.mailId = 'tr-' + Date.now().toString(36);
              control({ type: 'transcript', email: to, id: S.mailId });
              ui.mailForm.hidden = true;
            }
          }, [
            h('input', { ref: 'mailInput', class: 'pb-field', type: 'email', autocomplete: 'email', placeholder: t('phEmail'), 'aria-label': t('emailMe') }),
            h('button', { class: 'pb-send', type: 'submit', title: t('send'), 'aria-label': t('send') }, [icon('send')])])]),
        h('form', { ref: 'form', class: 'pb-composer', noValidate: true, onsubmit: function (ev) { ev.preventDefault(); submit(); } }, [
          h('button', { ref: 'attach', class: 'pb-attach', type: 'button', hidden: true, title: t('attach'), 'aria-label': t('attach'), onclick: function () { ui.fileInput.click(); } }, [icon('clip')]),
          h('input', { ref: 'fileInput', class: 'pb-fileinput', type: 'file', tabIndex: -1, 'aria-hidden': 'true', onchange: function () {
            var fs = ui.fileInput.files; for (var i = 0; fs && i < fs.length; i++) sendFile(fs[i]);
            ui.fileInput.value = '';
          } }),
          ui.input,
          h('button', { ref: 'send', class: 'pb-send', type: 'submit', disabled: true, title: t('send'), 'aria-label': t('send') }, [icon('send')])]),
        h('div', { ref: 'hint', class: 'pb-hint', id: 'pb-hint', 'aria-live': 'polite', hidden: true }),
        h('div', { class: 'pb-brand', text: t('powered') + ' ' }, [
          h('a', { text: 'Playbook', href: 'https://github.com/playbook-dev/playbook', target: '_blank', rel: 'noopener noreferrer' })])
      ]),
      h('button', {
        ref: 'launcher', class: 'pb-launcher', type: 'button', 'aria-label': t('open'), 'aria-expanded': 'false',
        onclick: function () { if (S.isOpen) closeChat(); else openChat(); }
      }, [icon('chat', true), icon('down'), h('span', { ref: 'badge', class: 'pb-badge', hidden: true, 'aria-hidden': 'true' })])
    ]);
    root.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && S.isOpen) { ev.stopPropagation(); closeChat(); }
    });
    setupFileDrop(root);
    shadow.appendChild(root);
    (D.body || D.documentElement).appendChild(host);
    applyColor(CONF.color);
  }

  // ---- state ---------------------------------------------------------
  var S = {
    pid: CONF.playbook,  // the playbook asked for ('' = the server picks)
    key: '',             // localStorage key of the conversation
    st: null,            // persisted: token, conversation, last, entries, pending, bot
    ws: null, ready: false, attempt: 0, timer: 0, pingT: 0, pongT: 0, triedDefault: false,
    seen: {}, rows: {}, byId: {}, files: {}, outbox: [],  // entry ids shown; visitor rows by client id
    status: '', ended: false, agent: '',
    isOpen: false, unread: 0, match: null,
    lastInput: 'text', waitBot: false, waitT: 0, typingFrom: '', typingT: 0, myTypingT: 0, myTypingOn: false,
    queue: [], pumping: false, lastBotAt: 0, hintFor: null, hintBad: false, noticeT: 0, bot: null,
    lastRow: null
  };
  function keyFor(pid) { return 'playbook:' + base.origin + base.pathname + ':' + (pid || '*'); }
  function save() { if (S.st) setJSON('localStorage', S.key, S.st); }
  function loadState(pid) {
    S.pid = pid || '';
    S.key = keyFor(S.pid);
    var st = getJSON('localStorage', S.key);
    if (!st || typeof st !== 'object') st = {};
    if (!Array.isArray(st.entries)) st.entries = [];
    if (!Array.isArray(st.pending)) st.pending = [];
    S.st = st;
  }

  // ---- rendering -----------------------------------------------------
  function avatarInto(box, who) {
    while (box.firstChild) box.removeChild(box.firstChild);
    var name = (who && who.name) || '';
    var src = who && who.avatar ? safeURL(who.avatar, IMG_SCHEMES) : '';
    box.textContent = '';
    if (src) {
      var img = el('img');
      img.alt = '';
      img.src = src;
      img.addEventListener('error', function () { if (img.parentNode) { box.removeChild(img); box.textContent = initial(name); } });
      box.appendChild(img);
    } else {
      box.textContent = initial(name);
    }
  }
  function initial(name) { var m = /[\p{L}\p{N}]/u.exec(String(name || '')); return m ? m[0] : '•'; }

  function applyBot(bot) {
    if (!bot) return;
    S.bot = bot;
    avatarInto(ui.typingAv, bot);
    applyColor(bot.color || CONF.color);
    subline();
  }

  function toBottom() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }
  function append(node, live) {
    if (live && !reduceMotion) node.classList.add('pb-live');
    ui.log.insertBefore(node, ui.typing);
    toBottom();
  }

  // linkify inserts text with web and email addresses as links; all of it
  // as text nodes.
  function linkify(box, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]|[\w.+-]+@[\w-]+(\.[\w-]+)+/g, last = 0, m;
    text = String(text || '');
    while ((m = re.exec(text))) {
      if (m.index > last) box.appendChild(D.createTextNode(text.slice(last, m.index)));
      var mail = !/^http/i.test(m[0]);
      var href = mail ? 'mailto:' + m[0] : safeURL(m[0], ['http:', 'https:']);
      if (href) {
        var a = el('a', '', m[0]);
        a.href = href;
        if (!mail) { a.target = '_blank'; a.rel = 'noopener noreferrer nofollow'; }
        box.appendChild(a);
      } else box.appendChild(D.createTextNode(m[0]));
      last = m.index + m[0].length;
    }
    if (last < text.length) box.appendChild(D.createTextNode(text.slice(last)));
  }

  // rich renders an agent's small rich text: **bold**, *italic*, [label](https://…)
  // and bare links; anything else stays text.
  function rich(box, text) {
    var re = /\*\*([^*\n]+)\*\*|\*([^*\s](?:[^*\n]*[^*\s])?)\*|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, last = 0, m;
    text = String(text || '');
    while ((m = re.exec(text))) {
      if (m.index > last) linkify(box, text.slice(last, m.index));
      var href = m[4] && safeURL(m[4], IMG_SCHEMES);
      if (m[1] != null) box.appendChild(el('strong', '', m[1]));
      else if (m[2] != null) box.appendChild(el('em', '', m[2]));
      else if (href) box.appendChild(h('a', { text: m[3], href: href, target: '_blank', rel: 'noopener noreferrer nofollow' }));
      else box.appendChild(D.createTextNode(m[0]));
      last = re.lastIndex;
    }
    if (last < text.length) linkify(box, text.slice(last));
  }

  function sender(e) { return e.from === 'visitor' ? 'visitor' : e.from === 'agent' ? 'agent:' + (e.author || '') : 'bot'; }

  function row(e, live) {
    var who = sender(e);
    var r = el('div', 'pb-row pb-' + (e.from === 'agent' ? 'agent' : e.from === 'visitor' ? 'visitor' : 'bot') + ' pb-tail');
    r._who = who;
    var prev = S.lastRow;
    if (prev && prev._who === who && prev.parentNode) {
      r.classList.add('pb-cont');
      prev.classList.remove('pb-tail');
    }
    S.lastRow = r;
    if (e.at) { var d = new Date(e.at); if (!isNaN(d)) r.title = d.toLocaleString(); }
    var stack = el('div', 'pb-stack');
    if (e.from !== 'visitor') {
      var av = el('div', 'pb-av' + (e.from === 'agent' ? ' pb-av-agent' : ''));
      avatarInto(av, e.from === 'agent' ? { name: e.author || t('agent') } : S.bot || { name: e.author });
      r.appendChild(av);
      var name = e.from === 'agent' ? e.author || t('agent') : (S.bot && S.bot.name) || e.author || '';
      if (name && S.speaker !== who) stack.appendChild(el('div', 'pb-author', name)); // when the speaker changes
      S.speaker = who;
    }
    r.appendChild(stack);
    r._stack = stack;
    append(r, live);
    return r;
  }

  function addMessage(e, live) {
    if (e.from === 'visitor') return visitorRow(e.text, e.client_id, 'sent', e, live);
    var r = row(e, live);
    if (e.id) S.byId[e.id] = r;
    if (e.deleted) { r._stack.appendChild(el('div', 'pb-bubble pb-deleted', t('deleted'))); return; }
    if (e.text) {
      var b = el('div', 'pb-bubble');
      (e.from === 'agent' ? rich : linkify)(b, e.text);
      r._stack.appendChild(b);
    }
    var img = e.image ? safeURL(e.image, IMG_SCHEMES) : '';
    if (img) {
      var im = el('img', 'pb-img');
      im.alt = '';
      im.loading = 'lazy';
      im.src = img;
      im.addEventListener('load', toBottom);
      im.addEventListener('error', function () { im.remove(); });
      r._stack.appendChild(im);
    }
    if (Array.isArray(e.links) && e.links.length) {
      var lb = el('div', 'pb-links');
      e.links.forEach(function (l) {
        var href = l && safeURL(l.url, LINK_SCHEMES);
        if (!href) return;
        var a = el('a', 'pb-link', l.label || l.url);
        a.href = href;
        if (/^https?:/.test(href)) { a.target = '_blank'; a.rel = 'noopener noreferrer'; }
        a.appendChild(icon('ext'));
        lb.appendChild(a);
      });
      if (lb.firstChild) r._stack.appendChild(lb);
    }
    var btns = Array.isArray(e.buttons) ? e.buttons.slice() : [];
    var synth = false;
    if (!btns.length && e.input === 'yes_no') { // offer the answers as buttons; typing works too
      var l = langOf(S.st.locale) || UI_LANG;
      btns = [{ label: t('yes', null, l), value: t('yes', null, l) }, { label: t('no', null, l), value: t('no', null, l) }];
      synth = true;
    }
    if (btns.length) {
      disableButtons();
      var bb = el('div', 'pb-btns');
      bb.setAttribute('role', 'group');
      btns.forEach(function (x) {
        if (!x || x.label == null) return;
        var btn = el('button', 'pb-btn', x.label);
        btn.type = 'button';
        btn._label = String(x.label);
        btn.addEventListener('click', function () {
          if (btn.disabled) return;
          disableButtons(btn);
          if (synth) sendVisitor({ type: 'message', text: btn._label }, btn._label);
          else sendVisitor({ type: 'button', value: String(x.value != null ? x.value : x.label), label: btn._label }, btn._label);
          if (!matchMedia('(pointer:coarse)').matches) ui.input.focus();
        });
        bb.appendChild(btn);
      });
      r._stack.appendChild(bb);
      S.btns = bb;
    }
    if (e.from === 'bot') setInput(e.input || 'text');
    toBottom();
  }

  // disableButtons turns the current buttons off, marking the chosen one.
  function disableButtons(chosen, label) {
    var bb = S.btns;
    if (!bb) return;
    S.btns = null;
    Array.prototype.forEach.call(bb.children, function (b) {
      b.disabled = true;
      if (b === chosen || (label && b._label.toLowerCase() === String(label).trim().toLowerCase())) b.classList.add('pb-chosen');
    });
  }

  function visitorRow(text, cid, state, e, live) {
    disableButtons(null, text);
    var r = row(e || { from: 'visitor' }, live);
    r._stack.appendChild(el('div', 'pb-bubble' + (e && e.deleted ? ' pb-deleted' : ''), e && e.deleted ? t('deleted') : text));
    if (e && e.id) S.byId[e.id] = r;
    r._text = text;
    if (cid) { S.rows[cid] = r; r._cid = cid; }
    rowState(r, state);
    toBottom();
    return r;
  }
  function rowState(r, state) {
    r._state = state;
    r.classList.toggle('pb-pending', state === 'pending');
    r.classList.toggle('pb-failed', state === 'failed');
    if (r._meta) { r._meta.remove(); r._meta = null; }
    if (state === 'failed') {
      var m = el('button', 'pb-meta', t('failed'));
      m.type = 'button';
      m.addEventListener('click', function () { retryRow(r); });
      r._meta = m;
    } else {
      r._meta = el('div', 'pb-meta', state === 'pending' ? t('sending') : t('sent'));
      if (state === 'sent' && S.lastSentMeta && S.lastSentMeta !== r) { // "Sent" only under the newest
        if (S.lastSentMeta._meta && S.lastSentMeta._state === 'sent') { S.lastSentMeta._meta.remove(); S.lastSentMeta._meta = null; }
      }
      if (state === 'sent') S.lastSentMeta = r;
    }
    r._stack.appendChild(r._meta);
  }

  function system(text, cls, live) {
    var n = el('div', 'pb-sys' + (cls ? ' ' + cls : ''), text);
    append(n, live);
    S.lastRow = null;
    return n;
  }

  function renderEntry(e, live) {
    if (e.kind === 'message' || !e.kind) { addMessage(e, live); return; }
    switch (e.kind) {
      case 'handoff':
        // The bot's own words ("Connecting you…") are the line; only a
        // handoff the bot did not announce gets one.
        if (!(S.lastRow && S.lastRow.classList.contains('pb-bot') && S.lastRow.parentNode)) {
          system(e.data && e.data.team ? t('handoff', { team: e.data.team }) : t('handoffAny'), '', live);
        }
        setStatus('handoff');
        break;
      case 'joined':
        S.agent = e.author || t('agent');
        system(t('joined', { name: S.agent }), '', live);
        setStatus('agent');
        break;
      case 'left':
        system(t('left', { name: e.author || t('agent') }), '', live);
        break;
      case 'end':
        showEnded(live);
        break;
      case 'resolved':
        showEnded(live, true);
        // The team reopens chats: the message box stays, and the next
        // message opens this chat again (the server's reopened entry).
        S.canReopen = !!(e.data && e.data.reopen);
        if (S.canReopen) ui.form.hidden = false;
        break;
      case 'reopened':
        reopened(live);
        break;
      case 'deleted':
        var id = e.data && e.data.target, r = id && S.byId[id];
        if (r) {
          Array.prototype.slice.call(r._stack.children).forEach(function (c) { if (!c.classList.contains('pb-author')) c.remove(); });
          r._stack.appendChild(el('div', 'pb-bubble pb-deleted', t('deleted')));
          if (S.btns && r.contains(S.btns)) S.btns = null;
        }
        S.st.entries.forEach(function (x) { if (x.id === id) { x.deleted = true; x.text = ''; delete x.buttons; delete x.links; delete x.image; } });
        save();
        break;
      case 'error':
        system(e.text || t('errGeneric'), 'pb-sys-error', live);
        break;
      case 'file':
        addFile(e, live);
        break;
      default: // record, note: not for visitors
    }
  }

  function setTypingShown() {
    var on = S.waitBot || !!S.typingFrom || S.pumping;
    if (ui.typing.hidden === !on) return;
    ui.typing.hidden = !on;
    if (on) toBottom();
  }
  function setWaitBot(on) {
    S.waitBot = on;
    clearTimeout(S.waitT);
    if (on) S.waitT = setTimeout(function () { S.waitBot = false; setTypingShown(); }, 15000);
    setTypingShown();
  }

  // The composer follows what the bot waits for.
  function setInput(kind) {
    S.lastInput = kind;
    var i = ui.input, ph = t('placeholder'), type = 'text', mode = '', ac = 'off', hint = '';
    switch (kind) {
      case 'email': type = 'email'; mode = 'email'; ac = 'email'; ph = t('phEmail'); break;
      case 'phone': type = 'tel'; mode = 'tel'; ac = 'tel'; ph = t('phPhone'); break;
      case 'number': mode = 'decimal'; ph = t('phNumber'); break;
      case 'int': mode = 'numeric'; ph = t('phNumber'); break;
      case 'date': ph = t('phDate'); hint = t('hDate'); break;
      case 'url': type = 'url'; mode = 'url'; ac = 'url'; ph = t('phUrl'); break;
    }
    if (i.type !== type) i.type = type;
    if (mode) i.setAttribute('inputmode', mode); else i.removeAttribute('inputmode');
    i.setAttribute('autocomplete', ac);
    i.placeholder = ph;
    S.hintFor = null;
    setHint(hint, false);
  }
  function setHint(text, bad) {
    S.hintBad = !!(text && bad);
    ui.hint.textContent = text || '';
    ui.hint.hidden = !text;
    ui.hint.classList.toggle('pb-bad', !!bad);
    if (bad) ui.input.setAttribute('aria-invalid', 'true'); else ui.input.removeAttribute('aria-invalid');
  }
  function notice(text, ms) {
    clearTimeout(S.noticeT);
    ui.notice.textContent = text || '';
    ui.notice.hidden = !text;
    if (text && ms) S.noticeT = setTimeout(function () { ui.notice.hidden = true; }, ms);
  }

  // check gives a hint when an answer will likely be refused; the server
  // decides (sending the same text again sends it anyway).
  function check(text, kind) {
    var s = text.trim().replace(/^mailto:/i, '').replace(/^<(.*)>$/, '$1');
    switch (kind) {
      case 'email': return /^[^\s@]+@[^\s@]+\.[^\s@.]{2,}\.?$/.test(s) ? '' : t('hEmail');
      case 'number': case 'int': return /\d/.test(s) ? '' : t('hNumber');
      case 'phone':
        var digits = (s.match(/\d/g) || []).length;
        return /^\+?[\d\s().\/-]+$/.test(s) && digits >= 7 && digits <= 17 ? '' : t('hPhone');
    }
    return '';
  }

  // ---- status ----------------------------------------------------------
  function setStatus(st) {
    if (!st) return;
    S.status = st;
    if (st === 'ended' || st === 'failed' || st === 'resolved') showEnded(true, st === 'resolved');
    if (st === 'handoff' || st === 'agent') setWaitBot(false);
    if (st !== 'handoff') S.queuePos = 0;
    renderQueue();
    subline();
  }
  // renderQueue shows the waiting visitor's place in the team's queue (the
  // server's queue frames) and the "Leave a message instead" button.
  function renderQueue() {
    var on = S.status === 'handoff' && S.queuePos > 0 && !S.ended;
    if (on) ui.queueText.textContent = S.queuePos === 1 ? t('queue1') : t('queueN', { n: S.queuePos });
    var est = waitText(S.queueEst);
    ui.queueEst.textContent = est;
    ui.queueEst.hidden = !est;
    ui.queue.hidden = !on;
  }
  // waitText says the team's usual wait (seconds; 0: unknown, say nothing).
  function waitText(sec) {
    if (!(sec > 0)) return '';
    return sec < 60 ? t('waitMin') : t('waitN', { n: Math.round(sec / 60) });
  }
  function leaveMessage() {
    S.queuePos = 0;
    renderQueue();
    control({ type: 'leave_message', label: t('leave') });
    setWaitBot(true);
  }
  function subline() {
    var txt = t('subBot');
    if (S.reconnecting) txt = t('reconnecting');
    else if (S.ended) txt = S.resolved ? t('resolved') : t('ended');
    else if (S.status === 'handoff') txt = t('subWaiting');
    else if (S.status === 'agent' && S.agent) txt = t('subAgent');
    ui.subText.textContent = txt;
    // The header shows who talks: the bot, or the agent who took the chat.
    var agent = S.status === 'agent' && S.agent, who = agent ? 'agent:' + S.agent : 'bot:' + JSON.stringify(S.bot);
    if (S.headWho !== who) {
      S.headWho = who;
      ui.title.textContent = agent ? S.agent : (S.bot && S.bot.name) || 'Chat';
      avatarInto(ui.headAv, agent ? { name: S.agent } : S.bot || { name: 'Chat' });
      ui.headAv.classList.toggle('pb-av-agent', !!agent);
    }
    ui.root.classList.toggle('pb-recon', !!S.reconnecting);
    ui.subDot.hidden = !!S.ended && !S.reconnecting;
  }
  function showEnded(live, resolved) {
    if (!S.ended) {
      S.ended = true;
      S.st.ended = true;
      save();
      disableButtons();
      setWaitBot(false);
      system(resolved ? t('resolved') : t('ended'), '', live);
      renderQueue();
      ui.form.hidden = true;
      ui.endbar.hidden = false;
      setHint('', false);
      subline();
      if (S.isOpen && ui.root.getRootNode().activeElement === ui.input) ui.restart.focus();
    }
    if (resolved && !S.resolved) {
      S.resolved = true;
      ui.mailBtn.hidden = !mailOffered();
      append(ratingCard(), live);
    }
  }

  // reopened undoes showEnded: the chat is open again, with its agent.
  function reopened(live) {
    S.canReopen = false;
    system(t('reopened'), '', live);
    if (S.ended) {
      S.ended = false;
      S.st.ended = false;
      save();
      ui.form.hidden = false;
      ui.endbar.hidden = true;
    }
    if (S.agent) setStatus('agent');
    subline();
  }

  // mailOffered: "Email me the transcript" is offered once the chat is
  // resolved, only when the server said it has mail (welcome.mail) and the
  // transcript was not sent (or refused for good) already.
  function mailOffered() { return !!(S.resolved && S.st.mail && !S.st.mailed); }

  // ratingCard asks for a 1-5 rating and an optional comment (after an
  // agent resolved the chat). The star click sends the rating at once (the
  // inbox sees it even if the visitor goes no further); the comment, sent
  // after it, replaces it (the server takes a new rating of the chat for a
  // while after the first).
  function ratingCard() {
    var card = el('div', 'pb-rate'), score = 0, sent = 0;
    var q = el('p', '', S.st.rated ? t('thanks') : t('rateQ'));
    card.appendChild(q);
    if (S.st.rated) return card;
    var stars = h('div', { class: 'pb-stars', role: 'group', 'aria-label': t('rateQ') });
    var comment = h('textarea', { maxLength: 1000, rows: 2, placeholder: t('commentPh'), 'aria-label': t('commentPh'), hidden: true });
    function rate(text) {
      control({ type: 'rating', score: score, comment: text });
      sent = score;
    }
    var send = h('button', {
      class: 'pb-restart', type: 'button', text: t('send'), hidden: true,
      onclick: function () {
        if (!score) return;
        var text = comment.value.trim().slice(0, 1000);
        if (text || score !== sent) rate(text);
        S.st.rated = score;
        save();
        while (card.lastChild !== q) card.removeChild(card.lastChild);
        q.textContent = t('thanks');
      }
    });
    [1, 2, 3, 4, 5].forEach(function (n) {
      stars.appendChild(h('button', {
        class: 'pb-star', type: 'button', text: '★', 'aria-label': t('star', { n: n }), 'aria-pressed': 'false',
        onclick: function () {
          score = n;
          Array.prototype.forEach.call(stars.children, function (b, i) {
            b.classList.toggle('pb-on', i < n);
            b.setAttribute('aria-pressed', String(i === n - 1));
          });
          rate(comment.value.trim().slice(0, 1000));
          comment.hidden = send.hidden = false;
          toBottom();
        }
      }));
    });
    card.appendChild(stars);
    card.appendChild(comment);
    card.appendChild(send);
    return card;
  }

  // control sends a frame that is no message (rating, transcript), connecting
  // first when needed.
  function control(f) {
    if (S.ready && wsSend(f)) return;
    S.outbox.push(f);
    connect();
  }

  // ---- the conversation ----------------------------------------------
  function resetView() {
    var log = ui.log;
    while (log.firstChild !== ui.typing) log.removeChild(log.firstChild);
    S.seen = {}; S.rows = {}; S.lastRow = null; S.speaker = ''; S.btns = null; S.lastSentMeta = null;
    S.ended = false; S.resolved = false; S.canReopen = false; S.status = ''; S.agent = ''; S.queue = []; S.pumping = false; S.byId = {}; S.files = {};
    ui.mailBtn.hidden = true; ui.mailForm.hidden = true;
    ui.form.hidden = false; ui.endbar.hidden = true;
    S.queuePos = 0; S.queueEst = 0; ui.queue.hidden = true;
    setWaitBot(false);
    setInput('text');
    notice('');
    subline();
  }

  // restore shows what localStorage kept, then unsent messages.
  function restore() {
    resetView();
    if (S.st.bot) applyBot(S.st.bot);
    S.st.entries.forEach(function (e) {
      if (!e || !e.id || S.seen[e.id]) return;
      S.seen[e.id] = 1;
      renderEntry(e, false);
    });
    S.st.pending.forEach(function (f) { visitorRow(f.label || f.text || f.value, f.id, 'pending', null, false); });
    if (S.st.ended) showEnded(false);
  }

  function cache(e) {
    var list = S.st.entries, i = list.length;
    while (i > 0 && cmpID(list[i - 1].id, e.id) > 0) i--; // keep id order
    list.splice(i, 0, e);
    if (list.length > MAX_CACHED) list.splice(0, list.length - MAX_CACHED);
    save();
  }

  function onEntry(e) {
    if (e && e.kind === 'file' && e.id && S.seen[e.id]) { refreshFile(e); return; }
    if (!e || !e.id || S.seen[e.id]) return;
    S.seen[e.id] = 1;
    if (!S.st.last || cmpID(e.id, S.st.last) > 0) S.st.last = e.id;
    if (e.kind !== 'record' && e.kind !== 'note') cache(Object.assign({}, e)); else save();
    if (e.from === 'visitor' && e.client_id && S.rows[e.client_id]) { // our own message, already shown
      S.byId[e.id] = S.rows[e.client_id];
      acked(e.client_id);
      return;
    }
    e._t = Date.now();
    S.queue.push(e);
    pump();
  }

  // pump shows queued entries in order; consecutive live bot bubbles are
  // paced a little, with the typing dots in between, like a person typing.
  function pump() {
    if (S.pumping) return;
    var e = S.queue[0];
    if (!e) return;
    if (e.status) { S.queue.shift(); setStatus(e.status); pump(); return; }
    var at = Date.parse(e.at || '');
    var fresh = !isNaN(at) && Math.abs(Date.now() - at) < 10000;
    var gap = 0;
    if (e.from === 'bot' && e.kind === 'message' && fresh && S.prevBot && e._t - S.prevBot._t < 300 && S.queue.length < 6) {
      gap = PACE_MS - (Date.now() - S.lastBotAt);
    }
    if (gap > 30) {
      S.pumping = true;
      setTypingShown();
      setTimeout(function () { S.pumping = false; pump(); }, gap);
      return;
    }
    S.queue.shift();
    S.prevBot = e.from === 'bot' && e.kind === 'message' ? e : null;
    if (e.from === 'bot' || e.from === 'agent') {
      if (e.from === 'bot') S.lastBotAt = Date.now();
      setWaitBot(false);
      if (S.typingFrom === e.from) S.typingFrom = '';
      if (!S.isOpen && e.kind === 'message') { S.unread++; badge(); }
    }
    renderEntry(e, fresh);
    setTypingShown();
    pump();
  }

  function badge() {
    ui.badge.hidden = !S.unread;
    ui.badge.textContent = S.unread > 9 ? '9+' : String(S.unread);
    ui.launcher.setAttribute('aria-label', S.unread ? t('open') + ' (' + t('newMessages', { n: S.unread }) + ')' : t('open'));
  }

  function acked(cid) {
    var pend = S.st.pending, changed = false;
    for (var i = pend.length - 1; i >= 0; i--) if (pend[i].id === cid) { pend.splice(i, 1); changed = true; }
    if (changed) save();
    var r = S.rows[cid];
    if (r && r._state !== 'sent') rowState(r, 'sent');
  }

  function sendVisitor(frame, shown) {
    if (S.ended && !S.canReopen) return;
    frame.id = newID();
    visitorRow(shown, frame.id, 'pending', null, true);
    S.st.pending.push(frame);
    save();
    markChatted();
    typingOff();
    if (S.ready) wsSend(frame);
    else connect();
    if (S.status !== 'handoff' && S.status !== 'agent') setWaitBot(true);
  }

  function retryRow(r) {
    var cid = r._cid, text = r._text;
    if (r.parentNode) r.parentNode.removeChild(r);
    delete S.rows[cid];
    sendVisitor({ type: 'message', text: text }, text);
  }

  // ---- attachments -----------------------------------------------------
  // A file entry (kind "file": data.file, name, type, size, and url: a
  // signed link, valid for a few minutes) shows an image as a thumbnail
  // that opens it, anything else as a link with its name and size.
  function fmtSize(n) {
    n = +n || 0;
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }
  function isImage(type) { return /^image\/(png|jpeg|gif|webp)(;|$)/.test(String(type || '')); }
  function fileNode(d) {
    var url = safeURL(d.url, IMG_SCHEMES);
    var name = String(d.name || 'file');
    var a;
    if (isImage(d.type)) {
      a = el('a', 'pb-imglink');
      a.setAttribute('aria-label', t('openImage', { name: name }));
      var im = el('img', 'pb-img');
      im.alt = name;
      im.loading = 'lazy';
      if (url) im.src = url;
      im.addEventListener('load', toBottom);
      a.appendChild(im);
      a._img = im;
    } else {
      a = el('a', 'pb-file');
      a.setAttribute('download', name);
      a.appendChild(icon('file'));
      a.appendChild(el('span', 'pb-fname', name));
      a.appendChild(el('span', 'pb-fsize', fmtSize(d.size)));
    }
    if (url) a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }
  function addFile(e, live) {
    if (e.from === 'visitor') disableButtons();
    var r = row(e, live);
    if (e.id) S.byId[e.id] = r;
    if (e.deleted) { r._stack.appendChild(el('div', 'pb-bubble pb-deleted', t('deleted'))); return; }
    var n = fileNode(e.data || {});
    r._stack.appendChild(n);
    if (e.id) S.files[e.id] = n;
    toBottom();
  }
  // refreshFile puts a fresh link on a file already shown.
  function refreshFile(e) {
    var n = S.files[e.id], url = safeURL(e.data && e.data.url, IMG_SCHEMES);
    if (!url) return;
    if (n) { n.href = url; if (n._img) n._img.src = url; }
    S.st.entries.forEach(function (x) { if (x.id === e.id && x.data) x.data.url = url; });
    save();
  }
  // resumeAfter is where a resume starts: after the last entry, or before
  // the first cached file, so the server sends the files again with fresh
  // links (theirs last minutes, and the visitor's clock may not be the
  // server's); the entries in between are known, not shown twice.
  function resumeAfter() {
    var list = S.st.entries;
    for (var i = 0; i < list.length; i++) {
      if (list[i].kind === 'file' && !list[i].deleted) return i > 0 ? list[i - 1].id : '';
    }
    return S.st.last || '';
  }
  function sendFile(file) {
    if (!file || !S.st || !S.st.token) return;
    var name = file.name || 'file';
    notice(t('uploading', { name: name }));
    var fd = new FormData();
    fd.append('file', file, name);
    var fail = function (why) { notice(''); setHint(t('fileFailed', { name: name, why: why || t('errGeneric') }), true); };
    fetch(BASE + 'api/widget/files?client_id=' + encodeURIComponent('f-' + newID()), {
      method: 'POST', headers: { Authorization: 'Bearer ' + S.st.token }, body: fd
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (b) {
        if (!res.ok) { fail(b && b.error); return; }
        notice('');
        if (S.hintBad) setHint('', false);
      });
    }, function () { fail(); });
  }
  // Files dropped on the chat window or pasted into the message box.
  function setupFileDrop(root) {
    var hasFiles = function (ev) { return ev.dataTransfer && Array.prototype.indexOf.call(ev.dataTransfer.types || [], 'Files') >= 0; };
    var off = function () { root.classList.remove('pb-dropping'); };
    ui.win.addEventListener('dragover', function (ev) {
      if (!hasFiles(ev) || ui.attach.hidden || ui.form.hidden) return;
      ev.preventDefault();
      root.classList.add('pb-dropping');
    });
    ui.win.addEventListener('dragleave', function (ev) { if (!ui.win.contains(ev.relatedTarget)) off(); });
    ui.win.addEventListener('drop', function (ev) {
      off();
      if (!hasFiles(ev) || ui.attach.hidden || ui.form.hidden) return;
      ev.preventDefault();
      Array.prototype.forEach.call(ev.dataTransfer.files, sendFile);
    });
    ui.input.addEventListener('paste', function (ev) {
      var fs = ev.clipboardData && ev.clipboardData.files;
      if (!fs || !fs.length || ui.attach.hidden) return;
      ev.preventDefault();
      Array.prototype.forEach.call(fs, sendFile);
    });
  }

  function submit() {
    var text = ui.input.value.trim();
    if (!text || (S.ended && !S.canReopen)) return;
    if (text.length > 4000) { setHint(t('tooLong'), true); return; }
    var h = check(text, S.lastInput);
    if (h && S.hintFor !== text) { S.hintFor = text; setHint(h, true); return; }
    S.hintFor = null;
    setHint(S.lastInput === 'date' ? t('hDate') : '', false);
    ui.input.value = '';
    ui.send.disabled = true;
    sendVisitor({ type: 'message', text: text }, text);
  }

  // Typing notices go to a person only (handoff or agent).
  function visitorTyping() {
    if (!S.ready || (S.status !== 'agent' && S.status !== 'handoff')) return;
    if (!S.myTypingOn) { S.myTypingOn = true; wsSend({ type: 'typing', on: true }); }
    clearTimeout(S.myTypingT);
    S.myTypingT = setTimeout(typingOff, 3000);
  }
  function typingOff() {
    clearTimeout(S.myTypingT);
    if (S.myTypingOn) { S.myTypingOn = false; if (S.ready) wsSend({ type: 'typing', on: false }); }
  }

  // ---- the websocket ---------------------------------------------------
  function wsSend(f) {
    if (S.ws && S.ws.readyState === 1) { S.ws.send(JSON.stringify(f)); return true; }
    return false;
  }

  function connect() {
    clearTimeout(S.timer);
    if (S.ws) return;
    var ws;
    try { ws = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    S.ws = ws;
    S.ready = false;
    ws.onopen = function () { if (ws === S.ws) hello(); };
    ws.onmessage = function (ev) {
      if (ws !== S.ws) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object') onFrame(f);
    };
    ws.onclose = function (ev) {
      if (ws !== S.ws) return;
      S.ws = null;
      S.ready = false;
      stopPing();
      // 1012: the server restarts (a graceful drain): come back at once, to
      // any server, and resume; unacknowledged messages go again on welcome.
      if (ev && ev.code === 1012) S.attempt = 0;
      if (!S.stopped) scheduleReconnect();
    };
  }
  function hello() {
    startPing();
    if (S.st.token) {
      wsSend({ type: 'resume', token: S.st.token, after: S.st.entries.length ? resumeAfter() : '' });
    } else {
      var f = { type: 'start', page: location.pathname, locale: BROWSER_LOCALE, visitor: visitor };
      if (S.pid && !S.triedDefault) f.playbook = S.pid;
      if (S.st.previous) f.previous = S.st.previous;
      if (S.pc && S.pc.values) { f.prechat = S.pc.values; f.playbook = S.pc.playbook; }
      wsSend(f);
      if (!S.st.entries.length) setWaitBot(true);
    }
  }
  function disconnect() {
    S.stopped = true;
    clearTimeout(S.timer);
    stopPing();
    var ws = S.ws;
    S.ws = null;
    S.ready = false;
    if (ws) try { ws.close(1000); } catch (e) { /* closed */ }
    S.stopped = false;
  }
  function scheduleReconnect() {
    var d = Math.min(30000, 500 * Math.pow(2, S.attempt++)); // 0.5 s, 1 s, 2 s … 30 s
    d = Math.min(30000, d * (1 + Math.random() * 0.5)); // jitter, so tabs do not come back all at once
    clearTimeout(S.timer);
    S.timer = setTimeout(connect, d);
    if (S.attempt > 1 || d > 1500) { S.reconnecting = true; subline(); }
    else S.timer2 = setTimeout(function () { if (!S.ready) { S.reconnecting = true; subline(); } }, 1500);
  }
  function startPing() {
    stopPing();
    S.pingT = setInterval(function () {
      if (!wsSend({ type: 'ping' })) return;
      clearTimeout(S.pongT);
      S.pongT = setTimeout(function () { if (S.ws) S.ws.close(); }, 10000);
    }, 25000);
  }
  function stopPing() { clearInterval(S.pingT); clearTimeout(S.pongT); }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': onWelcome(f); break;
      case 'entry': onEntry(f.entry); break;
      case 'ack': onAck(f); break;
      case 'sent':
        if (S.mailTo) { notice(t('sentTo', { email: S.mailTo }), 6000); S.st.mailed = true; save(); }
        S.mailTo = ''; S.mailId = '';
        break;
      case 'typing':
        S.typingFrom = f.on ? f.from || 'bot' : '';
        if (f.on) avatarInto(ui.typingAv, f.from === 'agent' ? { name: S.agent || t('agent') } : S.bot);
        ui.typingAv.classList.toggle('pb-av-agent', f.from === 'agent');
        clearTimeout(S.typingT);
        if (f.on) S.typingT = setTimeout(function () { S.typingFrom = ''; setTypingShown(); }, 30000);
        setTypingShown();
        break;
      case 'status': S.queue.push({ status: f.status }); pump(); break; // after the entries before it
      case 'queue': S.queuePos = +f.position || 0; S.queueEst = +f.estimate_seconds || 0; renderQueue(); break;
      case 'prechat': showPrechat(f); break;
      case 'error': onError(f); break;
      case 'pong': clearTimeout(S.pongT); break;
    }
  }

  function onWelcome(f) {
    hidePrechat();
    var st = S.st;
    if (st.conversation && f.conversation && st.conversation !== f.conversation) { // a new one
      st.entries = []; st.last = ''; st.ended = false;
      restore();
    }
    st.token = f.token;
    ui.attach.hidden = false; // files go with the token
    delete st.previous; // the server linked it
    st.conversation = f.conversation;
    st.playbook = f.playbook;
    st.locale = f.locale;
    st.mail = f.mail === true;
    if (f.bot) st.bot = f.bot;
    save();
    if (ui.mailForm.hidden) ui.mailBtn.hidden = !mailOffered();
    if (f.locale) ui.log.setAttribute('lang', f.locale);
    applyBot(f.bot);
    S.ready = true;
    S.attempt = 0;
    clearTimeout(S.timer2);
    if (S.reconnecting) { S.reconnecting = false; }
    setStatus(f.status);
    subline();
    // Messages not acknowledged yet go again with the same ids (the server dedupes).
    st.pending.forEach(function (p) { wsSend(p); });
    S.outbox.splice(0).forEach(wsSend);
  }

  function onAck(f) {
    var cid = f.id;
    var r = S.rows[cid];
    acked(cid);
    if (r && f.entry) S.byId[f.entry] = r;
    if (f.entry && !S.seen[f.entry] && r) {
      S.seen[f.entry] = 1;
      cache({ id: f.entry, from: 'visitor', kind: 'message', text: r._text, client_id: cid, at: new Date().toISOString() });
    }
  }

  function onError(f) {
    var code = f.code;
    if (code === 'invalid_prechat' && S.pc) { prechatRefused(f); return; }
    if (f.id && f.id === S.mailId) { mailError(code); return; }
    if (code === 'bad_token' || code === 'expired_token' || code === 'not_found') {
      // The conversation is gone: forget it and start over.
      S.st = { entries: [], pending: [] };
      save();
      restore();
      if (S.ws && S.ws.readyState === 1) hello(); else connect();
      return;
    }
    if (code === 'no_playbook') {
      if (S.pid && !S.triedDefault) { S.triedDefault = true; hello(); return; }
      setWaitBot(false);
      notice(t('errPlaybook'));
      return;
    }
    if (code === 'no_conversation') { if (S.ws) S.ws.close(); return; }
    if (code === 'already_rated') { S.st.rated = S.st.rated || 1; save(); return; } // another tab rated it first: nothing to tell
    if (code === 'not_resolved') return; // the rating card only shows after resolved; a stale one changes nothing
    if (!S.ready && (code === 'unavailable' || code === 'rate_limited')) { // start or resume failed: try again
      var ws = S.ws;
      setTimeout(function () { if (ws === S.ws && ws.readyState === 1 && !S.ready) hello(); }, 1000 + Math.random() * 1000);
      return;
    }
    var r = f.id && S.rows[f.id];
    if (code === 'rate_limited' || code === 'unavailable') {
      notice(code === 'rate_limited' ? t('errRate') : t('errRetry'), 4000);
      if (r) setTimeout(function () {
        var p = S.st.pending.filter(function (x) { return x.id === f.id; })[0];
        if (p && S.ready) wsSend(p);
      }, code === 'rate_limited' ? 2500 : 1500);
      return;
    }
    if (r) { // invalid, too_large: this message will never go through
      acked(f.id);
      rowState(r, 'failed');
      setWaitBot(false);
    }
    notice(code === 'invalid' && f.id ? t('tooLong') : t('errGeneric'), 5000);
  }

  // mailError: the transcript was not sent. Never retried by itself: the
  // visitor sees why, and the offer comes back only when trying again can
  // help (docs/protocol.md, "Transcripts by email").
  function mailError(code) {
    S.mailId = ''; S.mailTo = '';
    var msg = t('mailLater');
    if (code === 'mail_unavailable') { S.st.mail = false; msg = t('mailOff'); }
    else if (code === 'limit_reached') { S.st.mailed = true; msg = t('mailDone'); }
    else if (code === 'wrong_address') msg = t('mailWrong');
    else if (code === 'invalid') msg = t('errGeneric');
    save();
    ui.mailBtn.hidden = !mailOffered();
    if (!ui.mailBtn.hidden && (code === 'wrong_address' || code === 'invalid')) {
      ui.mailBtn.hidden = true; ui.mailForm.hidden = false;
      ui.mailInput.setAttribute('aria-invalid', 'true');
    }
    notice(msg, 8000);
  }

  // ---- open, close, start ----------------------------------------------
  function openChat(noFocus) {
    if (!ui.root) return;
    hideCampaign(false);
    if (!S.isOpen) {
      S.isOpen = true;
      ui.root.classList.add('pb-open');
      ui.launcher.setAttribute('aria-expanded', 'true');
      ui.launcher.setAttribute('aria-label', t('close'));
      S.unread = 0;
      ui.badge.hidden = true;
      setJSON('sessionStorage', 'playbook:open', S.pid || '*');
    }
    if (!S.ws && !(S.ended && S.st.token)) connect();
    toBottom();
    if (!noFocus) {
      var target = S.ended ? ui.restart : ui.input;
      setTimeout(function () { target.focus({ preventScroll: true }); }, reduceMotion ? 0 : 60);
    }
  }
  function closeChat() {
    if (!S.isOpen) return;
    S.isOpen = false;
    ui.root.classList.remove('pb-open');
    ui.launcher.setAttribute('aria-expanded', 'false');
    badge();
    setJSON('sessionStorage', 'playbook:open', null);
    ui.launcher.focus();
  }
  function startPlaybook(pid) {
    pid = String(pid || '');
    if (pid !== S.pid) {
      disconnect();
      loadState(pid);
      S.triedDefault = false;
      restore();
      setJSON('sessionStorage', 'playbook:current', pid || '*'); // a reload comes back to it
    }
    openChat();
  }
  function restart() {
    disconnect();
    // The new conversation follows this one: its token goes with start, so
    // the agents see them linked.
    var prev = S.st.token || S.st.previous;
    S.st = { entries: [], pending: [] };
    if (prev) S.st.previous = prev;
    save();
    restore();
    connect();
    ui.input.focus();
  }

  // ---- pre-chat form ----------------------------------------------------
  // The server answers start with a `prechat` frame when the playbook has a
  // form (docs/protocol.md, "The pre-chat form"). It is shown in the log,
  // the composer hidden; its values go with start again, and the server
  // checks them again (invalid_prechat names the field).
  function showPrechat(f) {
    setWaitBot(false);
    if (f.bot) applyBot(f.bot);
    hidePrechat();
    var pc = S.pc = { playbook: f.playbook, inputs: {}, errs: {}, fields: f.fields || [] };
    var kids = [];
    if (f.intro) kids.push(h('p', { class: 'pb-pc-intro', text: f.intro }));
    pc.fields.forEach(function (fd) {
      var id = 'pb-pc-' + fd.name, errId = id + '-err';
      var err = h('p', { class: 'pb-pc-err', id: errId, 'aria-live': 'polite' });
      var input;
      if (fd.input === 'checkbox') {
        input = h('input', { id: id, type: 'checkbox', name: fd.name, 'aria-describedby': errId });
        if (fd.required) input.setAttribute('aria-required', 'true');
        kids.push(h('div', { class: 'pb-pc-row pb-pc-check' }, [input, h('label', { htmlFor: id, text: fd.label || fd.name }), err]));
      } else {
        var attrs = { id: id, class: 'pb-field', name: fd.name, type: fd.input === 'email' ? 'email' : fd.input === 'tel' ? 'tel' : 'text', 'aria-describedby': errId };
        attrs.autocomplete = fd.name === 'phone' ? 'tel' : fd.name;
        input = h('input', attrs);
        if (fd.required) input.setAttribute('aria-required', 'true');
        var label = h('label', { htmlFor: id, text: fd.label || t({ name: 'pcName', email: 'pcEmail', phone: 'pcPhone' }[fd.name] || fd.name) });
        if (!fd.required) label.appendChild(h('span', { class: 'pb-pc-opt', text: ' ' + t('pcOptional') }));
        kids.push(h('div', { class: 'pb-pc-row' }, [label, input, err]));
      }
      pc.inputs[fd.name] = input; pc.errs[fd.name] = err;
      input.addEventListener(fd.input === 'checkbox' ? 'change' : 'input', function () { prechatError(fd.name, ''); }); // the visitor is fixing it
    });
    kids.push(h('button', { class: 'pb-pc-submit', type: 'submit', text: t('pcStart') }));
    pc.form = h('form', { class: 'pb-prechat', noValidate: true, 'aria-labelledby': 'pb-title', onsubmit: function (ev) { ev.preventDefault(); submitPrechat(); } }, kids);
    if (f.locale) pc.form.setAttribute('lang', f.locale);
    ui.log.insertBefore(pc.form, ui.typing);
    ui.form.hidden = true;
    var first = pc.fields.length && pc.inputs[pc.fields[0].name];
    if (first && S.isOpen) first.focus({ preventScroll: true });
  }
  function hidePrechat() {
    if (S.pc && S.pc.form && S.pc.form.parentNode) S.pc.form.parentNode.removeChild(S.pc.form);
    if (S.pc && S.pc.form) { S.pc.form = null; ui.form.hidden = false; }
  }
  function prechatError(name, msg) {
    var pc = S.pc, input = pc.inputs[name], err = pc.errs[name];
    if (!input) { notice(msg || t('errGeneric'), 5000); return; }
    err.textContent = msg;
    if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }
  function submitPrechat() {
    var pc = S.pc, values = {}, bad = '';
    pc.fields.forEach(function (fd) {
      var input = pc.inputs[fd.name], msg = '';
      if (fd.input === 'checkbox') {
        values[fd.name] = !!input.checked;
        if (fd.required && !input.checked) msg = t('pcTick');
      } else {
        var v = input.value.trim();
        values[fd.name] = v;
        if (!v) { if (fd.required) msg = t('pcRequired'); }
        else if (fd.name === 'email' && check(v, 'email')) msg = t('pcEmailBad');
        else if (fd.name === 'phone' && check(v, 'phone')) msg = t('pcPhoneBad');
      }
      prechatError(fd.name, msg);
      if (msg && !bad) bad = fd.name;
    });
    if (bad) { pc.inputs[bad].focus(); return; }
    pc.values = values;
    setWaitBot(true);
    if (S.ws && S.ws.readyState === 1) hello(); else connect();
  }
  function prechatRefused(f) {
    setWaitBot(false);
    S.pc.values = null;
    if (!S.pc.form) return;
    prechatError(f.field, f.message);
    if (S.pc.inputs[f.field]) S.pc.inputs[f.field].focus();
  }

  // ---- proactive campaign ---------------------------------------------
  function hideCampaign(dismissed) {
    ui.camp.hidden = true;
    clearTimeout(S.campT);
    if (dismissed && S.match) setJSON('sessionStorage', 'playbook:dismissed:' + S.match.playbook, 1);
  }
  function matchCampaign() {
    var started = Date.now();
    fetch(BASE + 'api/widget/match', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ page: location.pathname, locale: BROWSER_LOCALE, visitor: visitor }),
      credentials: 'omit'
    }).then(function (r) { return r.ok ? r.json() : {}; }).then(function (m) {
      if (!m || !m.playbook) return;
      S.match = m;
      if (!S.st.token && !S.st.entries.length && m.bot && (!S.pid || S.pid === m.playbook)) applyBot(m.bot); // not chatting yet
      if (!m.campaign || getJSON('sessionStorage', 'playbook:dismissed:' + m.playbook)) return;
      var own = getJSON('localStorage', keyFor(m.playbook));
      if (own && own.token && !own.ended) return; // already talking
      var wait = Math.max(0, (+m.delay_ms || 0) - (Date.now() - started));
      S.campT = setTimeout(function () {
        if (S.isOpen) return;
        var bot = m.bot || {};
        avatarInto(ui.campAv, bot);
        ui.campName.textContent = bot.name || '';
        ui.campName.hidden = !bot.name;
        ui.campText.textContent = String(m.campaign);
        ui.camp.hidden = false;
      }, wait);
    }).catch(function () { /* no campaign */ });
  }

  // ---- start -------------------------------------------------------------
  function init() {
    if (ui.root) return;
    build();
    var cur = getJSON('sessionStorage', 'playbook:current');
    loadState(cur ? (cur === '*' ? '' : cur) : S.pid);
    restore();
    var wasOpen = getJSON('sessionStorage', 'playbook:open');
    if (wasOpen && (wasOpen === (S.pid || '*')) && (S.st.token || S.st.pending.length)) openChat(true);
    else if (S.st.token && !S.st.ended) connect(); // follow the conversation; new messages show a badge
    matchCampaign();
    W.addEventListener('online', function () { if (!S.ws && (S.st.token || S.isOpen)) { S.attempt = 0; connect(); } });
    D.addEventListener('visibilitychange', function () {
      if (D.visibilityState === 'visible' && !S.ws && S.timer && (S.st.token || S.isOpen)) { S.attempt = 0; connect(); }
    });
    queued.forEach(function (c) { var fn = api[c[0]]; if (typeof fn === 'function') fn.apply(null, c.slice(1)); });
  }

  var api = {
    version: '1',
    open: function () { init(); openChat(); },
    close: function () { closeChat(); },
    start: function (playbookId) { init(); startPlaybook(playbookId); }
  };
  W.Playbook = api;
  if (D.body) init(); else D.addEventListener('DOMContentLoaded', init);
})();
