// A patient's offline-first flow through a client generated from the live schema
// (openapi-typescript types, openapi-fetch calls), compiled with `tsc --strict`.
// tests/clients/test_generated_clients.py generates ./schema.ts, compiles and runs this
// with AFTERGLOW_URL set, writes the e-mailed code to its standard input when it asks,
// and checks the JSON it prints last.
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Entry = components["schemas"]["Entry"];
type Safety = components["schemas"]["Safety"];

const baseUrl = process.env.AFTERGLOW_URL ?? "";
const email = "tessa@example.org";
const password = "correct horse battery staple";
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function check(condition: boolean, what: string): void {
  if (!condition) {
    throw new Error(`failed: ${what}`);
  }
}

async function main(): Promise<void> {
  const api = createClient<paths>({ baseUrl });

  // The first thing written after signing up, before the phone had a network again.
  const writtenAt = new Date(Date.now() + 1000);
  writtenAt.setUTCMilliseconds(0);
  const written = writtenAt.toISOString().replace(".000Z", "Z");

  const registered = await api.POST("/api/v1/auth/register/", {
    body: { email, password, display_name: "Tessa", time_zone: "Europe/Berlin" },
  });
  check(registered.response.status === 202, `register answers 202, not ${registered.response.status}`);

  // The code goes by e-mail: the test reads it from the mail server and types it in.
  console.log(JSON.stringify({ step: "code" }));
  const code = (await lines.next()).value as string;

  const confirmed = await api.POST("/api/v1/auth/register/confirm/", {
    body: { email, password, code: code.trim(), device_name: "Tessa's phone" },
  });
  check(confirmed.data !== undefined, `confirm answers ${confirmed.response.status}`);

  const signedIn = await api.POST("/api/v1/auth/login/", {
    body: { email, password, device_name: "Tessa's tablet" },
  });
  if (signedIn.data === undefined) {
    throw new Error(`sign-in answers ${signedIn.response.status}`);
  }
  const token: string = signedIn.data.token;
  const patient = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Token ${token}` },
  });

  // Sent with the time it was written and the app's own id.
  const id = randomUUID();
  // Written after signing up and before it is sent: when signing up took under the
  // second writtenAt is ahead by, the phone sends once that moment has passed.
  const ahead = writtenAt.getTime() - Date.now() + 10;
  if (ahead > 0) {
    await new Promise((resolve) => setTimeout(resolve, ahead));
  }
  check(writtenAt.getTime() < Date.now(), "written before it is sent");
  const entry = {
    id,
    kind: "note" as const,
    title: "On the train",
    body: "Calmer than last week.",
    written_at: written,
  };
  const created = await patient.POST("/api/v1/entries/", { body: entry });
  check(created.response.status === 201, `create answers 201, not ${created.response.status}`);
  // The app did not hear the answer and sends the same entry again.
  const repeated = await patient.POST("/api/v1/entries/", { body: entry });
  check(repeated.response.status === 200, `a repeated create answers 200, not ${repeated.response.status}`);

  // A draft written and deleted offline: sync reports its tombstone.
  const draftId = randomUUID();
  await patient.POST("/api/v1/entries/", { body: { id: draftId, kind: "note", body: "Draft." } });
  const deleted = await patient.DELETE("/api/v1/entries/{entry_id}/", {
    params: { path: { entry_id: draftId }, header: { "If-Match": '"1"' } },
  });
  check(deleted.response.status === 204, `delete answers 204, not ${deleted.response.status}`);

  const synced = await patient.GET("/api/v1/sync/", { params: { query: { limit: 500 } } });
  if (synced.data === undefined) {
    throw new Error(`sync answers ${synced.response.status}`);
  }
  const change = synced.data.changes.find((item) => item.id === id);
  const record = change?.type === "entry" ? (change.data as Entry | null) : null;
  const tombstone = synced.data.changes.find((item) => item.id === draftId);

  // Another device changes the entry (version 1 -> 2); this one still holds version 1.
  const changed = await patient.PATCH("/api/v1/entries/{entry_id}/", {
    params: { path: { entry_id: id }, header: { "If-Match": '"1"' } },
    body: { body: "Calmer than last week. Slept well." },
  });
  check(changed.response.status === 200, `a current If-Match answers 200, not ${changed.response.status}`);
  const stale = await patient.PATCH("/api/v1/entries/{entry_id}/", {
    params: { path: { entry_id: id }, header: { "If-Match": '"1"' } },
    body: { body: "An edit made offline." },
  });
  if (stale.error === undefined || !("current" in stale.error)) {
    throw new Error(`a stale If-Match answers ${stale.response.status} without current`);
  }
  const current: Entry = stale.error.current;

  // A PHQ-9 refused (item 4 out of range) whose item 9 is above 0: the typed error still
  // holds the crisis resources, so the app can show them however the submission ended.
  const refused = await patient.POST("/api/v1/measures/", {
    body: { instrument: "phq9", answers: [1, 1, 1, 9, 1, 1, 1, 1, 2] },
  });
  if (refused.error === undefined || !("safety" in refused.error)) {
    throw new Error(`a refused PHQ-9 answers ${refused.response.status} without safety`);
  }
  const safety: Safety | undefined = refused.error.safety;
  if (safety === undefined) {
    throw new Error("the refused PHQ-9 endorsing item 9 carries no safety block");
  }

  const erased = await patient.POST("/api/v1/me/erase/", { body: { password } });
  const again = await api.POST("/api/v1/auth/login/", { body: { email, password } });

  console.log(
    JSON.stringify({
      step: "done",
      id,
      written_at: written,
      created: created.data?.written_at ?? null,
      synced: record ? { id: record.id, written_at: record.written_at, type: change?.type } : null,
      tombstone: tombstone ? { deleted: tombstone.deleted, data: tombstone.data } : null,
      conflict: {
        status: stale.response.status,
        code: stale.error.code,
        current: { id: current.id, version: current.version, body: current.body },
      },
      refused_measure: {
        status: refused.response.status,
        code: refused.error.code,
        reason: safety.reason,
        message: safety.message,
      },
      erased: erased.response.status,
      sign_in_after: again.response.status,
      sign_in_after_code: again.error?.code ?? null,
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
