// Tests of the website snippet crates/http/assets/throughline.js in a jsdom window.
// Run: cd tests/snippet && npm ci && node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { JSDOM, ResourceLoader, VirtualConsole, CookieJar } from 'jsdom';
import { parse } from 'acorn';
import { minify } from 'terser';

const SNIPPET_PATH = new URL('../../crates/http/assets/throughline.js', import.meta.url);
const SNIPPET = readFileSync(SNIPPET_PATH, 'utf8');
const COLLECTOR = 'https://collect.example';
const SRC = `${COLLECTOR}/v1/throughline.js`;
const LANDING = 'https://shop.example/landing?utm_source=google&utm_medium=cpc&gclid=abc';
const SITE = 'https://shop.example/';
const QUEUE_STUB =
  'window.throughline = window.throughline || function(){(throughline.q=throughline.q||[]).push(arguments)};';

/** Serves the snippet at its collector URL, and nothing else. */
class Loader extends ResourceLoader {
  fetch(url, options) {
    if (url === SRC) return Promise.resolve(Buffer.from(SNIPPET));
    return null;
  }
}

/**
 * Loads a page with the snippet. Returns the window, the captured requests
 * ({via, url, body, type}) and the errors the page reported.
 *   attrs: extra attributes of the snippet's <script>; body: page body HTML;
 *   before: inline script run before the snippet (e.g. queued calls);
 *   transport: 'beacon' | 'fetch' | 'pixel' (which sending APIs the window has);
 *   cookies: false to make document.cookie ignore writes (cookies blocked).
 */
async function load({
  url = LANDING,
  jar = new CookieJar(),
  attrs = 'data-key="tl_test"',
  body = '',
  before = '',
  transport = 'beacon',
  cookies = true,
  referrer = 'https://www.google.com/',
} = {}) {
  const requests = [];
  const errors = [];
  const virtualConsole = new VirtualConsole();
  virtualConsole.on('jsdomError', (e) => errors.push(e));
  const html =
    `<!doctype html><html><head><script>${QUEUE_STUB}${before}</script>` +
    `<script async src="${SRC}" ${attrs}></script></head><body>${body}</body></html>`;
  const dom = new JSDOM(html, {
    url,
    referrer,
    cookieJar: jar,
    runScripts: 'dangerously',
    resources: new Loader(),
    virtualConsole,
    beforeParse(window) {
      const nav = window.navigator;
      if (transport === 'beacon') {
        nav.sendBeacon = (u, data) => {
          requests.push({ via: 'beacon', url: u, data, type: data && data.type });
          return true;
        };
      }
      if (transport === 'beacon' || transport === 'fetch') {
        window.fetch = (u, init) => {
          requests.push({ via: 'fetch', url: u, init, body: init && init.body });
          return Promise.resolve({ ok: true });
        };
      }
      window.Image = function Image() {
        const img = { set src(v) { requests.push({ via: 'pixel', url: v }); } };
        return img;
      };
      if (!cookies) {
        Object.defineProperty(window.document, 'cookie', {
          get: () => '',
          set: () => {},
          configurable: true,
        });
      }
    },
  });
  const { window } = dom;
  await new Promise((resolve) => {
    if (window.document.readyState === 'complete') resolve();
    else window.addEventListener('load', resolve);
  });
  assert.equal(typeof window.throughline, 'function', 'the snippet ran');
  // Beacon bodies are Blobs: read them as text.
  for (const r of requests) {
    if (r.via === 'beacon') r.body = await blobText(window, r.data);
  }
  return { dom, window, requests, errors, jar };
}

function blobText(window, blob) {
  return new Promise((resolve, reject) => {
    const reader = new window.FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = reject;
    reader.readAsText(blob);
  });
}

/** Requests made after `from`, with their Blob bodies read. */
async function newRequests(page, from) {
  const fresh = page.requests.slice(from);
  for (const r of fresh) {
    if (r.via === 'beacon' && r.body === undefined) r.body = await blobText(page.window, r.data);
  }
  return fresh;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function cookie(jar, name, url = SITE) {
  return jar.getCookiesSync(url).find((c) => c.key === name);
}

function params(value) {
  return Object.fromEntries(new URLSearchParams(value));
}

function hidden(form) {
  const out = {};
  for (const el of form.querySelectorAll('input[type=hidden]')) out[el.name] = el.value;
  return out;
}

test('the snippet is ES5 syntax and small', async () => {
  assert.doesNotThrow(() => parse(SNIPPET, { ecmaVersion: 5 }));
  const min = (await minify(SNIPPET)).code;
  const gz = gzipSync(min, { level: 9 }).length;
  assert.ok(min.length < 5 * 1024, `minified ${min.length} bytes`);
  assert.ok(gz < 3 * 1024, `minified+gzip ${gz} bytes`);
});

test('page view: visitor cookie and a text/plain beacon to /v1/events', async () => {
  const page = await load();
  const { window, requests, errors, jar } = page;
  assert.deepEqual(errors, []);

  const vid = cookie(jar, 'tl_vid');
  assert.ok(vid, 'tl_vid is set');
  assert.match(vid.value, /^[A-Za-z0-9_-]{22,}$/);
  assert.equal(vid.path, '/');
  assert.equal(vid.secure, true);
  assert.equal(vid.sameSite, 'lax');
  const days = (vid.expires.getTime() - Date.now()) / 864e5;
  assert.ok(days > 394 && days <= 395.01, `expires in ${days} days`);
  assert.equal(window.throughline('visitorId'), vid.value);

  assert.equal(requests.length, 1);
  const [beacon] = requests;
  assert.equal(beacon.via, 'beacon');
  assert.equal(beacon.url, `${COLLECTOR}/v1/events?key=tl_test`);
  assert.equal(beacon.type, 'text/plain');
  const event = JSON.parse(beacon.body);
  assert.deepEqual(Object.keys(event).sort(), ['event_id', 'referrer', 'ts', 'url', 'visitor_id']);
  assert.equal(event.url, LANDING);
  assert.equal(event.referrer, 'https://www.google.com/');
  assert.equal(event.visitor_id, vid.value);
  assert.match(event.event_id, /^[A-Za-z0-9_-]{22,}$/);
  assert.ok(Math.abs(Date.parse(event.ts) - Date.now()) < 60_000);
  assert.equal(new Date(event.ts).toISOString(), event.ts);

  // A second page view keeps the id and renews the cookie; its event id is new.
  const again = await load({ url: 'https://shop.example/about', jar });
  const second = JSON.parse(again.requests[0].body);
  assert.equal(second.visitor_id, vid.value);
  assert.notEqual(second.event_id, event.event_id);
  assert.equal(cookie(jar, 'tl_vid').value, vid.value);
  assert.ok(cookie(jar, 'tl_vid').expires.getTime() >= vid.expires.getTime());
});

test('data-cookie-days, data-cookie-domain and plain http', async () => {
  const jar = new CookieJar();
  await load({
    url: 'http://www.shop.example/p?utm_source=x',
    jar,
    attrs: 'data-key="tl_test" data-cookie-days="30" data-cookie-domain="shop.example"',
  });
  const vid = cookie(jar, 'tl_vid', 'http://other.shop.example/');
  assert.ok(vid, 'the cookie is shared with sibling subdomains');
  assert.equal(vid.secure, false);
  const days = (vid.expires.getTime() - Date.now()) / 864e5;
  assert.ok(days > 29 && days <= 30.01, `expires in ${days} days`);
});

test('first and latest click memory across two landings', async () => {
  const jar = new CookieJar();
  await load({ jar });
  const first1 = params(cookie(jar, 'tl_first').value);
  assert.equal(first1.utm_source, 'google');
  assert.equal(first1.utm_medium, 'cpc');
  assert.equal(first1.gclid, 'abc');
  assert.match(first1.t, /^\d+$/);
  assert.ok(Math.abs(first1.t * 1000 - Date.now()) < 60_000);
  assert.deepEqual(params(cookie(jar, 'tl_last').value), first1);

  // A page without campaign parameters changes neither.
  await load({ jar, url: 'https://shop.example/about' });
  assert.deepEqual(params(cookie(jar, 'tl_first').value), first1);
  assert.deepEqual(params(cookie(jar, 'tl_last').value), first1);

  // A second landing from Meta: first stays Google, latest becomes Meta.
  const page = await load({
    jar,
    url: 'https://shop.example/sale?utm_source=facebook&fbclid=IwAR%2Bx%20y&other=1',
    body: '<form id="f"><input name="email"></form>',
  });
  const first = params(cookie(jar, 'tl_first').value);
  const last = params(cookie(jar, 'tl_last').value);
  assert.deepEqual(first, first1);
  assert.equal(last.utm_source, 'facebook');
  assert.equal(last.fbclid, 'IwAR+x y');
  assert.equal(last.gclid, undefined);
  assert.equal(last.utm_medium, undefined);
  assert.equal(last.other, undefined);

  const fields = hidden(page.window.document.getElementById('f'));
  assert.equal(fields.tl_first_gclid, 'abc');
  assert.equal(fields.tl_first_utm_source, 'google');
  assert.equal(fields.tl_last_fbclid, 'IwAR+x y');
  assert.equal(fields.tl_last_utm_source, 'facebook');
  assert.equal(fields.tl_last_gclid, undefined);

  // A lead's click id is the latest one.
  page.window.throughline('lead', { email: 'a@b.example' });
  const [lead] = await newRequests(page, 1);
  assert.equal(JSON.parse(lead.body).click_id, 'IwAR+x y');
});

test('hidden fields: existing forms, forms added later, opt-out and own fields', async () => {
  const page = await load({
    body:
      '<form id="a"><input name="email"></form>' +
      '<form id="off" data-throughline="off"><input name="email"></form>' +
      '<form id="own"><input type="hidden" name="tl_last_gclid" value="mine"></form>',
  });
  const { document } = page.window;
  const vid = page.window.throughline('visitorId');

  const a = hidden(document.getElementById('a'));
  assert.deepEqual(a, {
    tl_vid: vid,
    tl_first_utm_source: 'google',
    tl_first_utm_medium: 'cpc',
    tl_first_gclid: 'abc',
    tl_last_utm_source: 'google',
    tl_last_utm_medium: 'cpc',
    tl_last_gclid: 'abc',
  });
  assert.equal(document.getElementById('off').elements.length, 1, 'opt-out form untouched');
  assert.equal(document.getElementById('off').outerHTML.includes('tl_'), false);
  const own = document.getElementById('own');
  assert.equal(own.querySelectorAll('[name=tl_last_gclid]').length, 1);
  assert.equal(own.querySelector('[name=tl_last_gclid]').value, 'mine');
  assert.equal(hidden(own).tl_first_gclid, 'abc');

  // A form added later (here inside a wrapper) is decorated too; so is a later opt-out not.
  const wrap = document.createElement('div');
  wrap.innerHTML = '<form id="late"><input name="phone"></form><form id="late-off" data-throughline="off"></form>';
  document.body.appendChild(wrap);
  const direct = document.createElement('form');
  document.body.appendChild(direct);
  await tick();
  assert.equal(hidden(document.getElementById('late')).tl_vid, vid);
  assert.equal(hidden(document.getElementById('late')).tl_last_gclid, 'abc');
  assert.equal(document.getElementById('late-off').elements.length, 0);
  assert.equal(hidden(direct).tl_first_utm_medium, 'cpc');
  assert.deepEqual(page.errors, []);
});

test('consent required: nothing before consent, everything after', async () => {
  const jar = new CookieJar();
  const page = await load({
    jar,
    attrs: 'data-key="tl_test" data-consent="required"',
    body: '<form id="f"><input name="email"></form>',
  });
  const { window } = page;
  assert.equal(page.requests.length, 0, 'nothing sent');
  assert.equal(jar.getCookiesSync(SITE).length, 0, 'no cookie');
  assert.equal(window.document.getElementById('f').elements.length, 1, 'no fields');
  assert.equal(window.throughline('visitorId'), null);
  assert.equal(window.throughline('lead', { email: 'a@b.example' }), null);
  assert.equal(page.requests.length, 0, 'no lead before consent');

  window.throughline('consent', true);
  const sent = await newRequests(page, 0);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].url, `${COLLECTOR}/v1/events?key=tl_test`);
  const vid = cookie(jar, 'tl_vid').value;
  assert.equal(JSON.parse(sent[0].body).visitor_id, vid);
  assert.equal(cookie(jar, 'tl_first') && params(cookie(jar, 'tl_first').value).gclid, 'abc');
  assert.equal(hidden(window.document.getElementById('f')).tl_vid, vid);
  window.throughline('consent', true);
  assert.equal(page.requests.length, 1, 'one page view per page');

  // The consent is remembered on the next page.
  const next = await load({ jar, url: 'https://shop.example/p', attrs: 'data-key="tl_test" data-consent="required"' });
  assert.equal(next.requests.length, 1);
  assert.equal(JSON.parse(next.requests[0].body).visitor_id, vid);

  // Withdrawing it clears the cookies and the fields, and stops sending.
  window.throughline('consent', false);
  assert.equal(cookie(jar, 'tl_vid'), undefined);
  assert.equal(cookie(jar, 'tl_first'), undefined);
  assert.equal(cookie(jar, 'tl_last'), undefined);
  assert.equal(window.document.getElementById('f').elements.length, 1);
  assert.equal(window.throughline('lead', { email: 'a@b.example' }), null);
  const after = await load({ jar, url: 'https://shop.example/p', attrs: 'data-key="tl_test" data-consent="required"' });
  assert.equal(after.requests.length, 0);
  assert.equal(jar.getCookiesSync(SITE).length, 0);
});

test('consent(false) without data-consent opts out until consent(true)', async () => {
  const jar = new CookieJar();
  const page = await load({ jar, before: "throughline('consent', false);" });
  assert.equal(page.requests.length, 0);
  assert.equal(cookie(jar, 'tl_vid'), undefined);
  assert.equal((await load({ jar })).requests.length, 0, 'remembered');
  page.window.throughline('consent', true);
  assert.equal(page.requests.length, 1);
  assert.equal((await load({ jar })).requests.length, 1);
});

test("throughline('lead', …) posts a lead", async () => {
  const page = await load({
    body:
      '<form id="f"><input type="email" name="your-mail" value="Olena@Example.com">' +
      '<input name="phone_number" value="+380 67 123 45 67"></form>',
  });
  const { window } = page;
  const id = window.throughline('lead', { email: 'a@b.example', phone: '+380671234567' });
  const [req] = await newRequests(page, 1);
  assert.equal(req.url, `${COLLECTOR}/v1/leads?key=tl_test`);
  assert.equal(req.type, 'text/plain');
  const lead = JSON.parse(req.body);
  assert.deepEqual(Object.keys(lead).sort(), [
    'click_id', 'email', 'lead_id', 'phone', 'source', 'ts', 'visitor_id',
  ]);
  assert.equal(lead.visitor_id, window.throughline('visitorId'));
  assert.equal(lead.click_id, 'abc');
  assert.equal(lead.email, 'a@b.example');
  assert.equal(lead.phone, '+380671234567');
  assert.equal(lead.source, 'web-form');
  assert.equal(lead.lead_id, id);
  assert.match(lead.lead_id, /^[A-Za-z0-9_-]{22,}$/);
  assert.equal(new Date(lead.ts).toISOString(), lead.ts);

  // E-mail and phone read from a form (element or selector).
  window.throughline('lead', { form: '#f' });
  const [fromForm] = await newRequests(page, 2);
  const lead2 = JSON.parse(fromForm.body);
  assert.equal(lead2.email, 'Olena@Example.com');
  assert.equal(lead2.phone, '+380 67 123 45 67');
  assert.notEqual(lead2.lead_id, lead.lead_id);

  // consent: false sends nothing.
  assert.equal(window.throughline('lead', { email: 'x@y.example', consent: false }), null);
  assert.equal(page.requests.length, 3);
  assert.deepEqual(page.errors, []);
});

test('calls queued before the snippet loaded run in order', async () => {
  const page = await load({
    attrs: 'data-key="tl_test" data-consent="required"',
    before: "throughline('consent', true); throughline('lead', {email: 'q@shop.example', source: 'chat'});",
  });
  assert.equal(page.requests.length, 2);
  assert.equal(page.requests[0].url, `${COLLECTOR}/v1/events?key=tl_test`);
  const lead = JSON.parse(page.requests[1].body);
  assert.equal(page.requests[1].url, `${COLLECTOR}/v1/leads?key=tl_test`);
  assert.equal(lead.email, 'q@shop.example');
  assert.equal(lead.source, 'chat');
  assert.equal(lead.visitor_id, page.window.throughline('visitorId'));
});

test('a lead with consent: true grants consent in consent-required mode', async () => {
  const page = await load({ attrs: 'data-key="tl_test" data-consent="required"' });
  assert.equal(page.requests.length, 0);
  page.window.throughline('lead', { email: 'c@shop.example', consent: true });
  const sent = await newRequests(page, 0);
  assert.deepEqual(sent.map((r) => r.url), [
    `${COLLECTOR}/v1/events?key=tl_test`,
    `${COLLECTOR}/v1/leads?key=tl_test`,
  ]);
});

test('fallbacks: fetch keepalive no-cors, then a pixel', async () => {
  const viaFetch = await load({ transport: 'fetch' });
  assert.equal(viaFetch.requests.length, 1);
  const [f] = viaFetch.requests;
  assert.equal(f.via, 'fetch');
  assert.equal(f.url, `${COLLECTOR}/v1/events?key=tl_test`);
  assert.equal(f.init.method, 'POST');
  assert.equal(f.init.keepalive, true);
  assert.equal(f.init.mode, 'no-cors');
  assert.equal(JSON.parse(f.body).url, LANDING);

  const viaPixel = await load({ transport: 'pixel' });
  assert.equal(viaPixel.requests.length, 1);
  const p = new URL(viaPixel.requests[0].url);
  assert.equal(p.origin + p.pathname, `${COLLECTOR}/v1/t.gif`);
  assert.equal(p.searchParams.get('key'), 'tl_test');
  assert.equal(p.searchParams.get('url'), LANDING);
  assert.equal(p.searchParams.get('ref'), 'https://www.google.com/');
  assert.equal(p.searchParams.get('vid'), viaPixel.window.throughline('visitorId'));
  assert.match(p.searchParams.get('eid'), /^[A-Za-z0-9_-]{22,}$/);
  assert.ok(p.searchParams.get('ts'));
});

test("throughline('links') tags the collector's tracked links with the visitor id", async () => {
  const page = await load({
    body:
      `<a id="r1" href="${COLLECTOR}/r/spring">x</a>` +
      `<a id="r2" href="${COLLECTOR}/r/spring?c=1#top">x</a>` +
      `<a id="r3" href="${COLLECTOR}/r/spring?vid=old">x</a>` +
      `<a id="o1" href="https://other.example/r/spring">x</a>` +
      `<a id="o2" href="${COLLECTOR}/v1/spring">x</a>`,
  });
  const { window } = page;
  const vid = window.throughline('visitorId');
  assert.equal(window.throughline('links'), 2);
  const href = (id) => window.document.getElementById(id).getAttribute('href');
  assert.equal(href('r1'), `${COLLECTOR}/r/spring?vid=${vid}`);
  assert.equal(href('r2'), `${COLLECTOR}/r/spring?c=1&vid=${vid}#top`);
  assert.equal(href('r3'), `${COLLECTOR}/r/spring?vid=old`);
  assert.equal(href('o1'), 'https://other.example/r/spring');
  assert.equal(href('o2'), `${COLLECTOR}/v1/spring`);
  assert.equal(window.throughline('links'), 0, 'idempotent');
});

test('broken cookie values do not throw and are replaced', async () => {
  const jar = new CookieJar();
  jar.setCookieSync('tl_vid=<script>', SITE);
  jar.setCookieSync('tl_first=%E0%A4%A&gclid=%&t=x', SITE);
  jar.setCookieSync('tl_last=garbage', SITE);
  jar.setCookieSync('tl_consent=%%%', SITE);
  const page = await load({ jar, body: '<form id="f"></form>' });
  assert.deepEqual(page.errors, []);
  assert.equal(page.requests.length, 1);
  const vid = cookie(jar, 'tl_vid').value;
  assert.match(vid, /^[A-Za-z0-9_-]{22,}$/);
  assert.equal(JSON.parse(page.requests[0].body).visitor_id, vid);
  assert.equal(params(cookie(jar, 'tl_first').value).gclid, 'abc');
  assert.equal(params(cookie(jar, 'tl_last').value).gclid, 'abc');
  assert.equal(hidden(page.window.document.getElementById('f')).tl_first_gclid, 'abc');
  // Odd arguments do not throw either.
  assert.equal(page.window.throughline(), null);
  assert.doesNotThrow(() => page.window.throughline('lead', 'not an object'));
  assert.doesNotThrow(() => page.window.throughline('links', 42));
  assert.equal(page.window.throughline('unknown', {}), null);
});

test('blocked cookies: a per-page visitor id, still sent', async () => {
  const one = await load({ cookies: false, body: '<form id="f"></form>' });
  const two = await load({ cookies: false });
  assert.deepEqual(one.errors, []);
  const v1 = JSON.parse(one.requests[0].body).visitor_id;
  const v2 = JSON.parse(two.requests[0].body).visitor_id;
  assert.match(v1, /^[A-Za-z0-9_-]{22,}$/);
  assert.notEqual(v1, v2);
  assert.equal(hidden(one.window.document.getElementById('f')).tl_vid, v1);
  assert.equal(hidden(one.window.document.getElementById('f')).tl_last_gclid, 'abc');
});

test('no globals besides window.throughline', async () => {
  const bare = new JSDOM('<!doctype html><html></html>', { url: SITE, runScripts: 'dangerously' });
  const before = new Set(Object.getOwnPropertyNames(bare.window));
  const page = await load({ before: 'delete window.throughline;' });
  const added = Object.getOwnPropertyNames(page.window).filter((k) => !before.has(k));
  assert.deepEqual(added.sort(), ['Image', 'fetch', 'throughline'].sort());
});

test('a missing data-key sends nothing and leaves the queue stub in place', async () => {
  const page = await load({ attrs: '', before: "throughline('lead', {email: 'a@b.example'});" });
  assert.deepEqual(page.errors, []);
  assert.equal(page.requests.length, 0);
  assert.equal(page.window.throughline.q.length, 1);
});

test('finds its tag without document.currentScript (e.g. loaded by a tag manager)', async () => {
  const requests = [];
  const dom = new JSDOM(
    `<!doctype html><script async src="${SRC}?v=2" data-key="tl_tm"></script><form id="f"></form>`,
    {
      url: LANDING,
      runScripts: 'dangerously',
      beforeParse(window) {
        window.fetch = (u, init) => {
          requests.push({ url: u, body: init.body });
          return Promise.resolve({});
        };
      },
    },
  );
  dom.window.eval(SNIPPET);
  assert.equal(requests.length, 1);
  assert.equal(requests[0].url, `${COLLECTOR}/v1/events?key=tl_tm`);
  assert.equal(hidden(dom.window.document.getElementById('f')).tl_first_gclid, 'abc');
});
