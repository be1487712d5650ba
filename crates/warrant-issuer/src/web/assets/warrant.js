// The issuer's pages: passkeys with navigator.credentials, and the decision on an agent's
// request. No inline script runs (the Content-Security-Policy forbids it): everything the
// page needs is in data- attributes.
"use strict";

const b64 = {
  // base64url (with or without padding) to bytes, and bytes to unpadded base64url.
  decode(text) {
    const s = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(s + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
  },
  encode(buf) {
    let bin = "";
    for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function say(text, ok) {
  const out = document.getElementById("message");
  out.textContent = text;
  out.className = ok ? "ok" : "error";
  out.focus();
}

async function call(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail || `the issuer answered ${res.status}`);
  return data;
}

// The creation options webauthn-rs sends, with their binary members as bytes.
function creationOptions(options) {
  const pk = structuredClone(options.publicKey);
  pk.challenge = b64.decode(pk.challenge);
  pk.user.id = b64.decode(pk.user.id);
  for (const c of pk.excludeCredentials || []) c.id = b64.decode(c.id);
  return { publicKey: pk };
}

function requestOptions(options) {
  const pk = structuredClone(options.publicKey);
  pk.challenge = b64.decode(pk.challenge);
  for (const c of pk.allowCredentials || []) c.id = b64.decode(c.id);
  return { publicKey: pk };
}

function created(cred) {
  return {
    id: cred.id,
    rawId: b64.encode(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: b64.encode(cred.response.attestationObject),
      clientDataJSON: b64.encode(cred.response.clientDataJSON),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    },
    extensions: cred.getClientExtensionResults(),
  };
}

function asserted(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: b64.encode(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: b64.encode(r.authenticatorData),
      clientDataJSON: b64.encode(r.clientDataJSON),
      signature: b64.encode(r.signature),
      userHandle: r.userHandle ? b64.encode(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults(),
  };
}

async function assertion(path, body) {
  const c = await call(path, body);
  const cred = await navigator.credentials.get(requestOptions(c.options));
  return { ceremony: c.ceremony, credential: asserted(cred) };
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
}

// /invite/{secret}: create a passkey.
const enrol = document.getElementById("enrol");
if (enrol) {
  enrol.addEventListener("submit", async (e) => {
    e.preventDefault();
    busy(enrol, true);
    try {
      const secret = enrol.dataset.secret;
      const c = await call(`/v1/invites/${secret}/challenge`, {});
      const cred = await navigator.credentials.create(creationOptions(c.options));
      const name = enrol.elements.name.value.trim() || undefined;
      await call(`/v1/invites/${secret}/passkey`, { ceremony: c.ceremony, credential: created(cred), name });
      enrol.hidden = true;
      say("Your passkey is enrolled. You can close this page.", true);
    } catch (err) {
      say(`No passkey was enrolled: ${err.message}`, false);
      busy(enrol, false);
    }
  });
}

// Sign in with a passkey, then show the page again.
const signin = document.getElementById("signin");
if (signin) {
  signin.addEventListener("submit", async (e) => {
    e.preventDefault();
    busy(signin, true);
    try {
      const human = signin.dataset.human || signin.elements.human.value.trim();
      const a = await assertion("/web/signin/challenge", { human });
      await call("/web/signin", { human, ceremony: a.ceremony, credential: a.credential });
      window.location.reload();
    } catch (err) {
      say(`You are not signed in: ${err.message}`, false);
      busy(signin, false);
    }
  });
}

// The grant as the human narrowed it, or null when unchanged.
function narrowed(form) {
  const asked = JSON.parse(form.dataset.grant);
  const g = structuredClone(asked);
  let changed = false;
  const keep = new Set([...form.querySelectorAll("input[name=keep]:checked")].map((i) => Number(i.value)));
  for (const input of form.querySelectorAll("input[data-op]")) {
    const [rule, cond, op] = [Number(input.dataset.rule), Number(input.dataset.cond), input.dataset.op];
    const value = Number(input.value);
    if (!Number.isInteger(value)) throw new Error(`${input.labels[0].textContent.trim()}: write a whole number`);
    if (value !== g.allow[rule].when[cond][op]) {
      g.allow[rule].when[cond][op] = value;
      changed = true;
    }
  }
  g.allow = g.allow.filter((_, i) => keep.has(i));
  if (g.allow.length !== asked.allow.length) changed = true;
  if (g.allow.length === 0) throw new Error("keep at least one thing the agent may do, or deny");
  const ttl = form.elements.ttl.value;
  if (ttl !== form.dataset.ttl) {
    g.ttl = ttl;
    delete g.expires_at;
    changed = true;
  }
  return changed ? g : null;
}

// /approve/{id} and /consent/{id}: decide, with a passkey bound to the one decision. The
// form's data-base is where its calls go; a consent also says whether to remember it, and
// its answer names where the browser goes next (back to the application).
const decide = document.getElementById("decide");
if (decide) {
  const base = decide.dataset.base;
  const human = decide.dataset.human;
  const run = async (verdict) => {
    busy(decide, true);
    try {
      const grant = verdict === "approve" ? narrowed(decide) : null;
      const remember = decide.elements.remember ? decide.elements.remember.checked && verdict === "approve" : undefined;
      const body = { human, verdict };
      if (grant) body.grant = grant;
      if (remember !== undefined) body.remember = remember;
      const a = await assertion(`${base}/passkey`, body);
      const decision = { human, verification: { method: "passkey", ceremony: a.ceremony, credential: a.credential } };
      if (grant) decision.grant = grant;
      if (remember !== undefined) decision.remember = remember;
      const d = await call(`${base}/${verdict}`, decision);
      decide.hidden = true;
      if (d.redirect_to) {
        say(verdict === "approve" ? `Approved: ${d.description}. Back to the application…` : "Denied. Back to the application…", true);
        window.location.assign(d.redirect_to);
        return;
      }
      say(verdict === "approve" ? `Approved: ${d.description}.` : "Denied. The agent gets nothing.", true);
    } catch (err) {
      say(`Nothing was decided: ${err.message}`, false);
      busy(decide, false);
    }
  };
  decide.addEventListener("submit", (e) => {
    e.preventDefault();
    run("approve");
  });
  document.getElementById("deny").addEventListener("click", () => run("deny"));
}

// A countdown to the request's end.
const left = document.getElementById("left");
if (left) {
  const end = Date.parse(left.dataset.until);
  const tick = () => {
    const s = Math.max(0, Math.round((end - Date.now()) / 1000));
    left.textContent = s > 0 ? `${Math.floor(s / 60)} min ${s % 60} s left` : "ended";
    if (s > 0) setTimeout(tick, 1000);
  };
  tick();
}
