// Settings: profile, password, marketing emails and the webhook signing secret.
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { useAuth, useUser } from "../auth";
import { Alert, Button, Card, Checkbox, CopyButton, FormError, onSubmit, PageHeader, TextField, useSubmit } from "../ui/kit";

function Profile() {
  const user = useUser();
  const { reloadUser } = useAuth();
  const [first, setFirst] = useState(user.first_name);
  const [last, setLast] = useState(user.last_name);
  const [saved, setSaved] = useState(false);
  const save = useSubmit(async () => {
    setSaved(false);
    await unwrap(api.PUT("/api/settings/profile", { body: { first_name: first, last_name: last } }));
    await reloadUser();
    setSaved(true);
  });
  return (
    <Card title="Profile">
      <form onSubmit={onSubmit(() => void save.run())} noValidate>
        <FormError error={save.error} />
        {saved && <Alert kind="success">Profile saved.</Alert>}
        <div className="row-2">
          <TextField label="First name" autoComplete="given-name" value={first} onChange={(e) => setFirst(e.target.value)} error={save.fields.first_name} />
          <TextField label="Last name" autoComplete="family-name" value={last} onChange={(e) => setLast(e.target.value)} error={save.fields.last_name} />
        </div>
        <TextField label="Email" type="email" value={user.email} readOnly disabled hint={user.email_verified ? "Verified" : "Not verified yet"} />
        <Button type="submit" busy={save.busy}>
          Save profile
        </Button>
      </form>
    </Card>
  );
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [saved, setSaved] = useState(false);
  const save = useSubmit(async () => {
    setSaved(false);
    await unwrap(api.PUT("/api/settings/password", { body: { current_password: current, new_password: next } }));
    setCurrent("");
    setNext("");
    setSaved(true);
  });
  return (
    <Card title="Password">
      <form onSubmit={onSubmit(() => void save.run())} noValidate>
        <FormError error={save.error} />
        {saved && <Alert kind="success">Password changed. Your other sessions were signed out.</Alert>}
        <TextField label="Current password" type="password" autoComplete="current-password" value={current}
          onChange={(e) => setCurrent(e.target.value)} error={save.fields.current_password} />
        <TextField label="New password" type="password" autoComplete="new-password" value={next}
          onChange={(e) => setNext(e.target.value)} error={save.fields.new_password} hint="At least 10 characters." />
        <Button type="submit" busy={save.busy} disabled={!current || !next}>
          Change password
        </Button>
      </form>
    </Card>
  );
}

function Marketing() {
  const user = useUser();
  const { reloadUser } = useAuth();
  const save = useSubmit(async (enabled: boolean) => {
    await unwrap(api.PUT("/api/settings/marketing", { body: { enabled } }));
    await reloadUser();
  });
  return (
    <Card title="Email preferences">
      <FormError error={save.error} />
      <Checkbox label="Product news and tips" hint="Occasional emails about new features. Account and billing emails are always sent."
        checked={user.marketing_emails_enabled} disabled={save.busy} onChange={(e) => void save.run(e.target.checked)} />
    </Card>
  );
}

function WebhookSigning() {
  const [secret, setSecret] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const reveal = useSubmit(async () => setSecret((await unwrap(api.GET("/api/settings/webhook-secret"))).webhook_secret));
  const rotate = useSubmit(async () => {
    setSecret((await unwrap(api.POST("/api/settings/webhook-secret/rotate"))).webhook_secret);
    setConfirming(false);
  });
  return (
    <Card title="Webhook signing secret">
      <p className="muted small">
        Research webhooks carry <code>X-Infrence-Signature: sha256=…</code> (HMAC-SHA256 of the body) and the Standard Webhooks headers, signed with this secret.
      </p>
      <FormError error={reveal.error ?? rotate.error} />
      {secret ? (
        <div className="secret">
          <code data-testid="webhook-secret">{secret}</code>
          <CopyButton text={secret} />
          <Button small variant="ghost" onClick={() => setSecret(null)}>
            Hide
          </Button>
        </div>
      ) : (
        <Button small busy={reveal.busy} onClick={() => void reveal.run()}>
          Reveal secret
        </Button>
      )}
      <div className="form-actions">
        {confirming ? (
          <>
            <span className="muted small">The current secret stops working at once.</span>
            <Button small variant="danger" busy={rotate.busy} onClick={() => void rotate.run()}>
              Rotate now
            </Button>
            <Button small variant="ghost" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
          </>
        ) : (
          <Button small variant="ghost" onClick={() => setConfirming(true)}>
            Rotate secret…
          </Button>
        )}
      </div>
    </Card>
  );
}

export function SettingsPage() {
  return (
    <>
      <PageHeader title="Settings" description="Your profile, security and notifications." />
      <div className="two-col">
        <Profile />
        <Password />
        <Marketing />
        <WebhookSigning />
      </div>
    </>
  );
}
