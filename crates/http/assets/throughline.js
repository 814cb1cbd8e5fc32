/*! Throughline website snippet | docs/SNIPPET.md */
(function (w, d) {
  'use strict';
  // The campaign parameters and click ids kept for forms; ALL = UTM + click ids.
  var CLICK_IDS = 'gclid gbraid wbraid dclid msclkid yclid ttclid twclid li_fat_id epik sccid fbclid'.split(' ');
  var ALL = 'utm_source utm_medium utm_campaign utm_content utm_term utm_id'.split(' ').concat(CLICK_IDS);
  var loc = w.location;
  var VID = 'tl_vid', FIRST = 'tl_first', LAST = 'tl_last', CONSENT = 'tl_consent', MARK = 'data-tl';
  var on = false, sent = false, watching = false;
  var vid = null, first = null, last = null;
  var i, script, base, key, domain, days, required, prior, queue;

  // Wraps an entry point so that it never throws into the page.
  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) { return null; }
    };
  }

  function noop() {}

  // 32 hex characters (128 random bits) from crypto.getRandomValues.
  function randomId() {
    var out = '', bytes = null, n;
    try { bytes = (w.crypto || w.msCrypto).getRandomValues(new Uint8Array(16)); } catch (e) {}
    for (n = 0; n < 16; n++) out += (256 + (bytes ? bytes[n] : Math.random() * 256 | 0)).toString(16).slice(1);
    return out;
  }

  function attr(el, name) { return el.getAttribute(name); }

  function nowIso() { return new Date().toISOString(); }

  function enc(s) { return encodeURIComponent(s); }

  function dec(s) {
    try { return decodeURIComponent(String(s).replace(/\+/g, ' ')); } catch (e) { return ''; }
  }

  // ---- cookies -----------------------------------------------------------
  function getCookie(name) {
    try { return (d.cookie.match(new RegExp('(?:^|;) *' + name + '=([^;]*)')) || [])[1]; } catch (e) {}
  }

  function setCookie(name, value, forDays) {
    var c = name + '=' + value + ';path=/;SameSite=Lax;expires=' +
      new Date(+new Date() + forDays * 864e5).toUTCString();
    if (domain) c += ';domain=' + domain;
    if (loc.protocol === 'https:') c += ';Secure';
    try { d.cookie = c; } catch (e) {}
  }

  function dropCookie(name) { setCookie(name, '', -1); }

  // ---- click memory ------------------------------------------------------
  // Known parameters of a query string (or of a stored cookie, which also has t=<unix s>).
  // Returns null when none is present, or, for a stored set, when its time is missing.
  function readParams(str, stored) {
    var out = {}, found = 0, parts = String(str || '').replace(/^\?/, '').split('&'), n, eq, k, v;
    for (n = 0; n < parts.length; n++) {
      eq = parts[n].indexOf('=');
      if (eq < 1) continue;
      k = dec(parts[n].slice(0, eq));
      v = dec(parts[n].slice(eq + 1)).slice(0, 200);
      if (ALL.indexOf(k) >= 0 && v && !out[k]) { out[k] = v; found++; }
      else if (stored && k === 't' && /^\d{1,12}$/.test(v)) out.t = +v;
    }
    return found && (!stored || out.t) ? out : null;
  }

  function writeParams(set) {
    var s = [], n;
    for (n = 0; n < ALL.length; n++) if (set[ALL[n]]) s.push(ALL[n] + '=' + enc(set[ALL[n]]));
    return s.join('&') + '&t=' + set.t;
  }

  function clickId(set) {
    for (var n = 0; set && n < CLICK_IDS.length; n++) if (set[CLICK_IDS[n]]) return set[CLICK_IDS[n]];
    return null;
  }

  // ---- sending -----------------------------------------------------------
  // POST a JSON body: sendBeacon (text/plain, no preflight), then fetch (keepalive, no-cors),
  // then `fallback` if any (a pixel for page views).
  function post(path, body, fallback) {
    if (!base || !key) return;
    var url = base + path + '?key=' + enc(key), json = JSON.stringify(body), nav = w.navigator;
    try {
      if (nav.sendBeacon && nav.sendBeacon(url, new Blob([json], { type: 'text/plain' }))) return;
    } catch (e) {}
    try {
      if (w.fetch) {
        w.fetch(url, { method: 'POST', body: json, keepalive: true, mode: 'no-cors' })
          .then(noop, safe(fallback || noop));
        return;
      }
    } catch (e) {}
    if (fallback) fallback();
  }

  function pageView() {
    var e = { url: loc.href, referrer: d.referrer, visitor_id: vid, ts: nowIso(), event_id: randomId() };
    post('/v1/events', e, function () {
      new Image().src = base + '/v1/t.gif?key=' + enc(key) + '&url=' + enc(e.url) + '&ref=' +
        enc(e.referrer) + '&vid=' + enc(e.visitor_id) + '&eid=' + e.event_id + '&ts=' + enc(e.ts);
    });
  }

  // ---- forms -------------------------------------------------------------
  function field(form, name, value) {
    var els = form.elements, n, el;
    for (n = 0; n < els.length; n++) {
      if (els[n].name === name) {
        if (els[n].hasAttribute(MARK)) els[n].value = value;
        return;
      }
    }
    el = d.createElement('input');
    el.type = 'hidden';
    el.name = name;
    el.value = value;
    el.setAttribute(MARK, '');
    form.appendChild(el);
  }

  function decorate(form) {
    if (!on || attr(form, 'data-throughline') === 'off') return;
    field(form, VID, vid);
    for (var n = 0; n < ALL.length; n++) {
      if (first && first[ALL[n]]) field(form, FIRST + '_' + ALL[n], first[ALL[n]]);
      if (last && last[ALL[n]]) field(form, LAST + '_' + ALL[n], last[ALL[n]]);
    }
  }

  // Decorates `root` if it is a form, and every form inside it.
  function scan(root) {
    if (!root.getElementsByTagName) return; // text and comment nodes
    var forms = root.nodeName === 'FORM' ? [root] : root.getElementsByTagName('form'), n;
    for (n = 0; n < forms.length; n++) safe(decorate)(forms[n]);
  }

  function watch() {
    if (watching) return;
    watching = true;
    if (w.MutationObserver) {
      new MutationObserver(safe(function (records) {
        for (var r = 0; r < records.length; r++) {
          for (var n = 0; n < records[r].addedNodes.length; n++) scan(records[r].addedNodes[n]);
        }
      })).observe(d.documentElement, { childList: true, subtree: true });
    }
  }

  // ---- lifecycle ---------------------------------------------------------
  function allowed() {
    var c = getCookie(CONSENT);
    return c === '1' || (!required && c !== '0');
  }

  function start() {
    if (on) return;
    on = true;
    // Visitor id: kept and renewed in tl_vid; when cookies are blocked the fresh id stays
    // this page's only.
    vid = getCookie(VID);
    if (!/^[\w-]{22,64}$/.test(vid || '')) vid = randomId();
    setCookie(VID, vid, days);
    first = readParams(getCookie(FIRST), true);
    last = readParams(getCookie(LAST), true);
    var landing = readParams(loc.search, false);
    if (landing) {
      landing.t = Math.floor(+new Date() / 1000);
      last = landing;
      setCookie(LAST, writeParams(landing), days);
      if (!first) {
        first = landing;
        setCookie(FIRST, writeParams(landing), days);
      }
    }
    if (!sent) {
      sent = true;
      pageView();
    }
    scan(d);
    watch();
  }

  function boot() {
    if (!on && allowed()) start();
  }

  function consent(granted) {
    if (granted) {
      setCookie(CONSENT, '1', days);
      start();
      return true;
    }
    on = false;
    vid = first = last = null;
    dropCookie(VID);
    dropCookie(FIRST);
    dropCookie(LAST);
    if (required) dropCookie(CONSENT);
    else setCookie(CONSENT, '0', days);
    var added = d.querySelectorAll('input[' + MARK + ']'), n;
    for (n = 0; n < added.length; n++) added[n].parentNode.removeChild(added[n]);
    return false;
  }

  function fromForm(form, type, pattern) {
    var els = form ? form.elements : [], n;
    for (n = 0; n < els.length; n++) {
      if (els[n].value && !els[n].hasAttribute(MARK) &&
          (els[n].type === type || pattern.test(els[n].name || ''))) return els[n].value;
    }
    return undefined;
  }

  function lead(o) {
    o = o || {};
    if (o.consent === false) return null;
    if (o.consent === true && !allowed()) consent(true);
    boot();
    if (!on) return null;
    var form = typeof o.form === 'string' ? d.querySelector(o.form) : o.form;
    var body = {
      visitor_id: vid,
      click_id: clickId(last) || clickId(first) || undefined,
      email: o.email || fromForm(form, 'email', /e-?mail/i),
      phone: o.phone || fromForm(form, 'tel', /phone|tel/i),
      source: o.source || 'web-form',
      ts: nowIso(),
      lead_id: randomId()
    };
    post('/v1/leads', body);
    return body.lead_id;
  }

  function links() {
    if (!on || !base) return 0;
    var as = d.getElementsByTagName('a'), count = 0, n, m;
    for (n = 0; n < as.length; n++) {
      // m[1]: the link up to its #fragment, m[2]: the fragment
      m = /^([^#]*)(.*)$/.exec(as[n].href);
      if (m && m[1].indexOf(base + '/r/') === 0 && !/[?&]vid=/.test(m[1])) {
        as[n].href = m[1] + (/\?/.test(m[1]) ? '&' : '?') + 'vid=' + vid + m[2];
        count++;
      }
    }
    return count;
  }

  var api = safe(function (command, arg) {
    if (command === 'consent') return consent(arg);
    if (command === 'lead') return lead(arg);
    boot();
    if (command === 'visitorId') return vid;
    if (command === 'links') return links();
    return null;
  });
  api.loaded = true;

  // ---- init --------------------------------------------------------------
  safe(function () {
    prior = w.throughline;
    if (prior && prior.loaded) return; // the snippet is on the page twice
    script = d.currentScript;
    if (!script || !attr(script, 'data-key')) script = d.querySelector('script[src*="throughline.js"][data-key]');
    if (!script) return;
    base = (/^https?:\/\/[^\/?#]+/i.exec(script.src) || [''])[0];
    key = attr(script, 'data-key');
    domain = attr(script, 'data-cookie-domain');
    days = parseFloat(attr(script, 'data-cookie-days'));
    if (!(days > 0)) days = 395;
    required = attr(script, 'data-consent') === 'required';
    queue = prior && prior.q;
    w.throughline = api;
    for (i = 0; queue && i < queue.length; i++) api.apply(null, queue[i]);
    boot();
  })();
})(window, document);
