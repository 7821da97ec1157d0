// Sign up, log in, forgot and reset password: the pages a signed-out visitor can see.
import { type ReactNode, useState } from "react";
import { api, unwrap } from "../../api/client";
import { useAuth } from "../../auth";
import { Link, navigate, useLocation } from "../../lib/router";
import { Alert, Button, FormError, onSubmit, TextField, useSubmit } from "../../ui/kit";

function AuthLayout({ title, subtitle, children, footer }: { title: string; subtitle?: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="brand brand-center">
          <span className="brand-mark" aria-hidden="true">I</span> Infrence
        </div>
        <h1>{title}</h1>
        {subtitle && <p className="muted">{subtitle}</p>}
        {children}
        {footer && <div className="auth-footer">{footer}</div>}
      </div>
    </main>
  );
}

export function LoginPage() {
  const { login } = useAuth();
  const { query } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const submit = useSubmit(async () => {
    await login(email, password);
    const next = query.get("next");
    navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
  });

  return (
    <AuthLayout
      title="Log in"
      subtitle="Welcome back. Log in to run research and manage your account."
      footer={
        <>
          <Link href="/forgot-password">Forgot your password?</Link>
          <span>
            New here? <Link href="/signup">Create an account</Link>
          </span>
        </>
      }
    >
      {query.get("verified") === "1" && <Alert kind="success" title="Email verified">Log in to continue.</Alert>}
      {query.get("reset") === "1" && <Alert kind="success" title="Password changed">Log in with your new password.</Alert>}
      <form onSubmit={onSubmit(() => submit.run())} noValidate>
        <FormError error={submit.error} />
        <TextField label="Email" type="email" autoComplete="email" required value={email}
          onChange={(e) => setEmail(e.target.value)} error={submit.fields.email} />
        <TextField label="Password" type="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} error={submit.fields.password} />
        <Button type="submit" variant="primary" busy={submit.busy} className="btn-block">
          Log in
        </Button>
      </form>
    </AuthLayout>
  );
}

export function SignupPage() {
  const { signup } = useAuth();
  const [form, setForm] = useState({ first_name: "", last_name: "", email: "", password: "" });
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const submit = useSubmit(async () => {
    await signup({ ...form, first_name: form.first_name || null, last_name: form.last_name || null });
    navigate("/", { replace: true });
  });

  return (
    <AuthLayout
      title="Create your account"
      subtitle="Verify your email to receive free starter credits."
      footer={
        <span>
          Already have an account? <Link href="/login">Log in</Link>
        </span>
      }
    >
      <form onSubmit={onSubmit(() => submit.run())} noValidate>
        <FormError error={submit.error} />
        <div className="row-2">
          <TextField label="First name" autoComplete="given-name" value={form.first_name} onChange={set("first_name")} error={submit.fields.first_name} />
          <TextField label="Last name" autoComplete="family-name" value={form.last_name} onChange={set("last_name")} error={submit.fields.last_name} />
        </div>
        <TextField label="Email" type="email" autoComplete="email" required value={form.email} onChange={set("email")} error={submit.fields.email} />
        <TextField label="Password" type="password" autoComplete="new-password" required value={form.password}
          onChange={set("password")} error={submit.fields.password} hint="At least 10 characters; avoid common passwords." />
        <Button type="submit" variant="primary" busy={submit.busy} className="btn-block">
          Create account
        </Button>
      </form>
    </AuthLayout>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const submit = useSubmit(async () => {
    await unwrap(api.POST("/api/auth/forgot-password", { body: { email } }));
    setSent(true);
  });
  return (
    <AuthLayout title="Reset your password" subtitle="We will email you a link to choose a new password." footer={<Link href="/login">Back to log in</Link>}>
      {sent ? (
        <Alert kind="success" title="Check your inbox">
          If an account exists for {email}, a reset link is on its way. The link expires in an hour.
        </Alert>
      ) : (
        <form onSubmit={onSubmit(() => submit.run())} noValidate>
          <FormError error={submit.error} />
          <TextField label="Email" type="email" autoComplete="email" required value={email}
            onChange={(e) => setEmail(e.target.value)} error={submit.fields.email} />
          <Button type="submit" variant="primary" busy={submit.busy} className="btn-block">
            Send reset link
          </Button>
        </form>
      )}
    </AuthLayout>
  );
}

export function ResetPasswordPage() {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const submit = useSubmit(async () => {
    await unwrap(api.POST("/api/auth/reset-password", { body: { token, password } }));
    navigate("/login?reset=1", { replace: true });
  });
  const send = () => {
    setMismatch(password !== confirm);
    if (password === confirm) void submit.run();
  };

  return (
    <AuthLayout title="Choose a new password" footer={<Link href="/login">Back to log in</Link>}>
      {!token ? (
        <Alert kind="error" title="This link is incomplete">
          Open the link from the email again, or <Link href="/forgot-password">request a new one</Link>.
        </Alert>
      ) : (
        <form onSubmit={onSubmit(send)} noValidate>
          <FormError error={submit.error} />
          <TextField label="New password" type="password" autoComplete="new-password" required value={password}
            onChange={(e) => setPassword(e.target.value)} error={submit.fields.password ?? submit.fields.token}
            hint="At least 10 characters. Every signed-in session will be logged out." />
          <TextField label="Confirm new password" type="password" autoComplete="new-password" required value={confirm}
            onChange={(e) => setConfirm(e.target.value)} error={mismatch ? "The passwords do not match" : undefined} />
          <Button type="submit" variant="primary" busy={submit.busy} className="btn-block">
            Set new password
          </Button>
        </form>
      )}
    </AuthLayout>
  );
}
