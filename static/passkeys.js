// Passkeys (SPEC.md §4): the browser half of the ceremonies whose server
// half is under /passkeys/. No library: the browser parses the options
// from JSON itself (PublicKeyCredential.parse*OptionsFromJSON) and
// serialises its answer (credential.toJSON()).
//
// Each element with data-passkey="register" | "login" | "second-step"
// holds a button (data-passkey-button, hidden until this script finds
// WebAuthn) and a status line (data-passkey-status) that says what
// happens, or why nothing can. data-endpoint is where its ceremony's
// begin and finish are; data-csrf is the form CSRF token, sent in the
// JSON body as forms send it.
"use strict";

const supported =
  window.PublicKeyCredential &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = answer.error && answer.error.message;
    throw new Error(message || `The server answered ${response.status}.`);
  }
  return answer;
}

function say(box, text) {
  const status = box.querySelector("[data-passkey-status]");
  if (status) status.textContent = text;
}

function failed(box, error) {
  // The person closed the browser's dialog, or it timed out.
  if (error.name === "NotAllowedError" || error.name === "AbortError") {
    say(box, "No passkey was used. You can try again.");
  } else {
    say(box, error.message || "The passkey did not work.");
  }
}

function remember() {
  const box = document.getElementById("remember");
  return Boolean(box && box.checked);
}

async function register(box) {
  const csrf = box.dataset.csrf;
  const name = box.querySelector("[name=name]");
  say(box, "Follow your browser's prompt to make the passkey…");
  const begun = await post(`${box.dataset.endpoint}/begin`, { csrf_token: csrf });
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begun.publicKey);
  const credential = await navigator.credentials.create({ publicKey });
  await post(`${box.dataset.endpoint}/finish`, {
    csrf_token: csrf,
    ceremony: begun.ceremony,
    name: name ? name.value : "",
    credential: credential.toJSON(),
  });
  window.location.assign("/me/security");
}

// A sign-in: "login" signs in with any passkey of this site, "second-step"
// finishes a password login. `mediation` is "conditional" for the login
// form's autofill, undefined for a button.
async function signIn(box, mediation, signal) {
  const csrf = box.dataset.csrf;
  const begun = await post(`${box.dataset.endpoint}/begin`, { csrf_token: csrf });
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.publicKey);
  const credential = await navigator.credentials.get({ publicKey, mediation, signal });
  const done = await post(`${box.dataset.endpoint}/finish`, {
    csrf_token: csrf,
    ceremony: begun.ceremony,
    credential: credential.toJSON(),
    next: box.dataset.next || null,
    remember: remember(),
  });
  window.location.assign(done.redirect);
}

for (const box of document.querySelectorAll("[data-passkey]")) {
  const kind = box.dataset.passkey;
  const button = box.querySelector("[data-passkey-button]");
  if (!supported || !button) continue;
  button.hidden = false;
  say(box, "");

  if (kind === "register") {
    box.addEventListener("submit", (event) => {
      event.preventDefault();
      button.disabled = true;
      // On success the page is replaced; the button comes back on failure.
      register(box).catch((error) => {
        failed(box, error);
        button.disabled = false;
      });
    });
    continue;
  }

  // On the login form, the browser may offer passkeys in the email
  // field's autofill; a click on the button cancels that offer first.
  let autofill = null;
  if (kind === "login" && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (!available) return;
      autofill = new AbortController();
      signIn(box, "conditional", autofill.signal).catch((error) => {
        if (error.name !== "AbortError") failed(box, error);
      });
    });
  }
  button.addEventListener("click", () => {
    if (autofill) autofill.abort();
    autofill = null;
    button.disabled = true;
    say(box, "Follow your browser's prompt…");
    signIn(box, undefined).catch((error) => {
      failed(box, error);
      button.disabled = false;
    });
  });
}
