// API keys: create (the secret is shown once), reset, revoke, and when each was last used.
import { useState } from "react";
import { api, type Schemas, unwrap } from "../api/client";
import * as fmt from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Alert, Async, Button, Card, CodeBlock, CopyButton, Empty, FormError, onSubmit, PageHeader, Table, TextField, useSubmit } from "../ui/kit";

function Reveal({ created, onDone }: { created: Schemas["CreatedKey"]; onDone: () => void }) {
  return (
    <Alert kind="success" title={`Your new key “${created.name}”`}>
      <p>Copy it now: this is the only time the full key is shown.</p>
      <div className="secret">
        <code data-testid="new-key">{created.plaintext}</code>
        <CopyButton text={created.plaintext} label="Copy key" />
      </div>
      <Button small variant="ghost" onClick={onDone}>
        I have saved it
      </Button>
    </Alert>
  );
}

function KeyRow({ item, onChanged, onCreated }: { item: Schemas["ApiKeyDto"]; onChanged: () => void; onCreated: (k: Schemas["CreatedKey"]) => void }) {
  const [confirming, setConfirming] = useState<"reset" | "revoke" | null>(null);
  const action = useSubmit(async (kind: "reset" | "revoke") => {
    if (kind === "revoke") await unwrap(api.DELETE("/api/keys/{id}", { params: { path: { id: item.id } } }));
    else onCreated(await unwrap(api.POST("/api/keys/{id}/reset", { params: { path: { id: item.id } } })));
    setConfirming(null);
    onChanged();
  });
  return (
    <tr>
      <td>{item.name}</td>
      <td><code>{item.prefix}…</code></td>
      <td title={fmt.when(item.created_at)}>{fmt.ago(item.created_at)}</td>
      <td title={fmt.when(item.last_used_at)}>{fmt.ago(item.last_used_at)}</td>
      <td className="actions">
        {action.error && <span className="field-error">{action.error.message}</span>}
        {confirming ? (
          <>
            <span className="muted small">{confirming === "revoke" ? "Revoke for good?" : "Old secret stops working."}</span>
            <Button small variant="danger" busy={action.busy} onClick={() => void action.run(confirming)}>
              {confirming === "revoke" ? "Revoke" : "Reset"}
            </Button>
            <Button small variant="ghost" onClick={() => setConfirming(null)}>
              Keep
            </Button>
          </>
        ) : (
          <>
            <Button small onClick={() => setConfirming("reset")} aria-label={`Reset ${item.name}`}>
              Reset
            </Button>
            <Button small variant="ghost" onClick={() => setConfirming("revoke")} aria-label={`Revoke ${item.name}`}>
              Revoke
            </Button>
          </>
        )}
      </td>
    </tr>
  );
}

export function KeysPage() {
  const keys = useAsync(() => unwrap(api.GET("/api/keys")), []);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<Schemas["CreatedKey"] | null>(null);
  const create = useSubmit(async () => {
    setCreated(await unwrap(api.POST("/api/keys", { body: { name: name.trim() || null } })));
    setName("");
    keys.reload();
  });

  return (
    <>
      <PageHeader title="API keys" description={<>Authenticate calls to <code>/v1/research</code> with <code>Authorization: Bearer &lt;key&gt;</code>.</>} />
      {created && <Reveal created={created} onDone={() => setCreated(null)} />}
      <Card title="Create a key">
        <form className="inline-form" onSubmit={onSubmit(() => void create.run())} noValidate>
          <TextField label="Name" placeholder="Production server" value={name} onChange={(e) => setName(e.target.value)} error={create.fields.name} />
          <Button type="submit" variant="primary" busy={create.busy}>
            Create key
          </Button>
        </form>
        <FormError error={create.error} />
      </Card>
      <Card title="Your keys">
        <Async state={keys}>
          {(list) =>
            list.length ? (
              <Table caption="API keys">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Key</th>
                    <th>Created</th>
                    <th>Last used</th>
                    <th><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((item) => (
                    <KeyRow key={item.id} item={item} onChanged={keys.reload} onCreated={setCreated} />
                  ))}
                </tbody>
              </Table>
            ) : (
              <Empty title="No API keys yet">Create one above to call the API from your code.</Empty>
            )
          }
        </Async>
      </Card>
      <Card title="Quick start">
        <CodeBlock label="Copy command" code={`curl ${window.location.origin}/v1/research \\
  -H "Authorization: Bearer $INFRENCE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"question": "What is new in solid-state batteries?", "mode": "lite"}'`} />
      </Card>
    </>
  );
}
