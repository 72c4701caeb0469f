// Sekimori WebAuthn glue: the only script the pages load (no inline scripts, CSP
// script-src 'self'). It moves base64url between the JSON API and the browser's WebAuthn
// calls; every decision stays on the server.
"use strict";

const b64uToBuf = (s) => {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
};
const bufToB64u = (buf) => {
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

async function api(path, body) {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, body: json };
}

function creationOptions(o) {
  const pk = { ...o.publicKey };
  pk.challenge = b64uToBuf(pk.challenge);
  pk.user = { ...pk.user, id: b64uToBuf(pk.user.id) };
  pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => ({ ...c, id: b64uToBuf(c.id) }));
  return { publicKey: pk };
}

function requestOptions(o) {
  const pk = { ...o.publicKey };
  pk.challenge = b64uToBuf(pk.challenge);
  pk.allowCredentials = (pk.allowCredentials || []).map((c) => ({ ...c, id: b64uToBuf(c.id) }));
  const opts = { publicKey: pk };
  if (o.mediation) opts.mediation = o.mediation;
  return opts;
}

function registrationJson(cred) {
  return {
    id: cred.id,
    rawId: bufToB64u(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: bufToB64u(cred.response.attestationObject),
      clientDataJSON: bufToB64u(cred.response.clientDataJSON),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    },
    extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

function assertionJson(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: bufToB64u(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: bufToB64u(r.authenticatorData),
      clientDataJSON: bufToB64u(r.clientDataJSON),
      signature: bufToB64u(r.signature),
      userHandle: r.userHandle ? bufToB64u(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

/** Register a security key ("security_key") or a passkey ("passkey"); with a session, or with
 * the flow id of an `enrolment_required` sign-in. */
async function register(kind, label, flowId) {
  const start = await api("/api/v1/factors/webauthn", flowId ? { kind, flow_id: flowId } : { kind });
  if (start.status !== 200) return start;
  const cred = await navigator.credentials.create(creationOptions(start.body.options));
  const body = {
    registration_id: start.body.registration_id,
    credential: registrationJson(cred),
    label: label || "",
  };
  if (start.body.flow_id) body.flow_id = start.body.flow_id;
  return api("/api/v1/factors/webauthn/confirm", body);
}

/** Answer a `second_factor_required` flow with a security key. */
async function secondFactor(flowId) {
  const c = await api("/api/v1/login/webauthn/challenge", { flow_id: flowId });
  if (c.status !== 200) return c;
  const cred = await navigator.credentials.get(requestOptions(c.body.options));
  return api("/api/v1/login", { flow_id: c.body.flow_id, webauthn: assertionJson(cred) });
}

/** Sign in with a passkey, without a password (a username is optional). */
async function passkeySignIn(username) {
  const c = await api("/api/v1/login/passkey/challenge", username ? { username } : {});
  if (c.status !== 200) return c;
  const cred = await navigator.credentials.get(requestOptions(c.body.options));
  return api("/api/v1/login", { flow_id: c.body.flow_id, webauthn: assertionJson(cred) });
}

/** Approve a sign-in at a server (the PAM device flow) with this account's security key. */
async function approveDevice(code) {
  const c = await api("/api/v1/device/challenge", { user_code: code });
  if (c.status !== 200) return c;
  const cred = await navigator.credentials.get(requestOptions(c.body.options));
  return api("/api/v1/device/approve", { user_code: code, webauthn: assertionJson(cred) });
}

window.Sekimori = { api, register, secondFactor, passkeySignIn, approveDevice };

const msgs = () => (document.getElementById("messages") || { dataset: {} }).dataset;
const isJa = () => document.documentElement.lang === "ja";

function show(result) {
  const out = document.getElementById("status");
  if (!out) return;
  const ok = result.status === 200 && result.body.result !== "deny";
  const err = result.body && result.body.error;
  let msg;
  if (result.status === 200 && result.body.result) {
    // The device flow's answer: approved, refused by the person, or refused with a reason.
    const r = result.body.result;
    msg = r === "allow" ? msgs().approved : r === "denied" ? msgs().denied : result.body.message;
    out.textContent = msg;
    out.dataset.outcome = r === "deny" ? result.body.reason : r;
    return;
  }
  if (ok) msg = result.body.outcome || result.body.credential_kind || "ok";
  else if (err && !isJa()) msg = err.message;
  else msg = (msgs().refused || "") + (err ? ` (${err.code})` : "");
  out.textContent = msg;
  out.dataset.outcome = ok ? (result.body.outcome || "registered") : (err && err.code) || "error";
}

/** After a refused answer the flow goes on under a new id: use it everywhere on the page. */
function adoptFlow(result) {
  const next = result.body && result.body.error && result.body.error.details && result.body.error.details.flow_id;
  if (!next) return;
  document.querySelectorAll("[data-flow-id]").forEach((el) => { el.dataset.flowId = next; });
  document.querySelectorAll('input[name="flow_id"]').forEach((el) => { el.value = next; });
}

async function run(action, rd) {
  const out = document.getElementById("status");
  if (out) { out.textContent = msgs().working || ""; delete out.dataset.outcome; }
  let result;
  try {
    result = await action();
  } catch (e) {
    result = { status: 0, body: { error: { code: "browser_refused", message: String(e && e.name) } } };
  }
  adoptFlow(result);
  show(result);
  if (result.status === 200 && result.body.outcome === "authenticated" && rd !== undefined) {
    window.location.assign(rd || "/login");
  }
  return result;
}

function strengthMeter(input) {
  const box = document.getElementById("strength");
  if (!box) return;
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const r = await api("/api/v1/password/check", {
        password: input.value,
        username: input.dataset.strengthFor || undefined,
      });
      if (r.status !== 200) return;
      box.querySelector("meter").value = r.body.score;
      const list = box.querySelector("ul");
      list.replaceChildren(...r.body.reasons.map((x) => {
        const li = document.createElement("li");
        li.textContent = isJa() ? x.message_ja : x.message_en;
        return li;
      }));
    }, 250);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const on = (id, fn) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener("click", () => run(fn));
  };
  const label = () => (document.getElementById("label") || {}).value || "";
  on("register-security-key", () => register("security_key", label()));
  on("register-passkey", () => register("passkey", label()));
  on("passkey-sign-in", () => passkeySignIn((document.getElementById("username") || {}).value || ""));
  document.querySelectorAll("[data-action]").forEach((el) => {
    el.addEventListener("click", () => {
      const d = el.dataset;
      if (d.action === "passkey-sign-in") run(() => passkeySignIn(""), d.rd);
      if (d.action === "webauthn-second-factor") run(() => secondFactor(d.flowId), d.rd);
      if (d.action === "webauthn-enrol") run(() => register(d.kind, "", d.flowId), d.rd);
      if (d.action === "device-approve") run(() => approveDevice(d.code));
      if (d.action === "device-deny") run(() => api("/api/v1/device/deny", { user_code: d.code }));
    });
  });
  document.querySelectorAll("input[data-strength-for]").forEach(strengthMeter);
});
