// The dashboard's building blocks: every page is made of these, so states look the same everywhere.
import {
  type ButtonHTMLAttributes,
  type FormEvent,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
  useId,
  useState,
} from "react";
import { ApiError, type FieldErrors } from "../api/client";
import type { AsyncState } from "../lib/useAsync";

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & {
  variant?: "primary" | "secondary" | "danger" | "ghost";
  busy?: boolean;
  small?: boolean;
};

export function Button({ variant = "secondary", busy, small, className, disabled, children, ...rest }: ButtonProps) {
  const classes = ["btn", `btn-${variant}`, small ? "btn-sm" : "", className ?? ""].join(" ").trim();
  return (
    <button type="button" className={classes} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy && <span className="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}

type FieldShell = { label: string; hint?: ReactNode; error?: string; className?: string };

function FieldFrame({ id, label, hint, error, className, children }: FieldShell & { id: string; children: ReactNode }) {
  return (
    <div className={`field ${error ? "field-invalid" : ""} ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && !error && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

const describedBy = (id: string, hint?: ReactNode, error?: string) =>
  error ? `${id}-error` : hint ? `${id}-hint` : undefined;

export function TextField({ label, hint, error, className, ...input }: FieldShell & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <FieldFrame id={id} label={label} hint={hint} error={error} className={className}>
      <input id={id} aria-invalid={!!error || undefined} aria-describedby={describedBy(id, hint, error)} {...input} />
    </FieldFrame>
  );
}

export function TextArea({ label, hint, error, className, ...input }: FieldShell & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <FieldFrame id={id} label={label} hint={hint} error={error} className={className}>
      <textarea id={id} aria-invalid={!!error || undefined} aria-describedby={describedBy(id, hint, error)} {...input} />
    </FieldFrame>
  );
}

export function Select({
  label,
  hint,
  error,
  className,
  options,
  ...input
}: FieldShell & SelectHTMLAttributes<HTMLSelectElement> & { options: { value: string; label: string }[] }) {
  const id = useId();
  return (
    <FieldFrame id={id} label={label} hint={hint} error={error} className={className}>
      <select id={id} aria-invalid={!!error || undefined} aria-describedby={describedBy(id, hint, error)} {...input}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldFrame>
  );
}

export function Checkbox({ label, hint, ...input }: { label: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="checkbox">
      <input type="checkbox" id={id} {...input} />
      <label htmlFor={id}>
        {label}
        {hint && <span className="field-hint">{hint}</span>}
      </label>
    </div>
  );
}

export function Alert({ kind = "info", title, children }: { kind?: "info" | "success" | "error" | "warning"; title?: string; children?: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {title && <strong>{title}</strong>}
      {children && <div>{children}</div>}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: ApiError; onRetry?: () => void }) {
  return (
    <Alert kind="error" title="Something went wrong">
      <p>{error.message}</p>
      {onRetry && (
        <Button small onClick={onRetry}>
          Try again
        </Button>
      )}
    </Alert>
  );
}

/** Render an async read: a spinner while loading, an error with retry, then the data. */
export function Async<T>({ state, children }: { state: AsyncState<T>; children: (data: T) => ReactNode }) {
  if (state.error) return <ErrorState error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p className="muted">{description}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

export function Card({ title, actions, children, className }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className ?? ""}`}>
      {(title || actions) && (
        <div className="card-head">
          {title && <h2>{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, sub }: { label: string; value: ReactNode; sub?: ReactNode }) {
  return (
    <div className="stat">
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
      {sub && <span className="stat-sub">{sub}</span>}
    </div>
  );
}

const STATUS_TONE: Record<string, string> = {
  succeeded: "good", paid: "good", completed: "good", active: "good", open: "info", running: "info",
  queued: "neutral", pending: "neutral", closed: "neutral", canceled: "warn", cancelled: "warn",
  expired: "warn", failed: "bad", suspended: "bad", refunded: "warn", ready: "good", processing: "info", awaiting_approval: "info",
};

export function Badge({ status, children }: { status: string; children?: ReactNode }) {
  return <span className={`badge badge-${STATUS_TONE[status] ?? "neutral"}`}>{children ?? status}</span>;
}

export function Table({ caption, children }: { caption: string; children: ReactNode }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table>
        <caption className="sr-only">{caption}</caption>
        {children}
      </table>
    </div>
  );
}

/** Offset pagination for endpoints that return plain lists: "next" while a page is full. */
export function Pager({ offset, limit, shown, onChange }: { offset: number; limit: number; shown: number; onChange: (offset: number) => void }) {
  if (offset === 0 && shown < limit) return null;
  return (
    <nav className="pager" aria-label="Pagination">
      <Button small disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ← Previous
      </Button>
      <span className="muted">
        {shown ? `${offset + 1}–${offset + shown}` : "No more rows"}
      </span>
      <Button small disabled={shown < limit} onClick={() => onChange(offset + limit)}>
        Next →
      </Button>
    </nav>
  );
}

/** A code block with a Copy button (commands, JSON): what a reader most often wants to take away. */
export function CodeBlock({ code, label = "Copy" }: { code: string; label?: string }) {
  return (
    <div className="code-block">
      <pre className="code">{code}</pre>
      <CopyButton text={code} label={label} />
    </div>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <Button small onClick={copy} aria-live="polite">
      {copied ? "Copied ✓" : label}
    </Button>
  );
}

/** A form's submit: busy flag, the server's message and its per-field errors. */
export function useSubmit<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (...args: A): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
      return true;
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "error", String(e)));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const fields: FieldErrors = error?.fields ?? {};
  return { run, busy, error, fields, clear: () => setError(null) };
}

/** A destructive action behind a second click: "Delete" → "Delete for good?" [Delete] [Keep]. */
export function ConfirmButton({ label, question, name, onConfirm }: { label: string; question: string; name: string; onConfirm: () => Promise<unknown> }) {
  const [confirming, setConfirming] = useState(false);
  const action = useSubmit(onConfirm);
  if (!confirming)
    return (
      <Button small variant="ghost" onClick={() => setConfirming(true)} aria-label={`${label} ${name}`}>
        {label}
      </Button>
    );
  return (
    <>
      {action.error && <span className="field-error">{action.error.message}</span>}
      <span className="muted small">{question}</span>
      <Button small variant="danger" busy={action.busy} onClick={() => void action.run()} aria-label={`Confirm: ${label.toLowerCase()} ${name}`}>
        {label}
      </Button>
      <Button small variant="ghost" onClick={() => setConfirming(false)}>
        Keep
      </Button>
    </>
  );
}

/** The server's message for the whole form (field errors also show beside their inputs). */
export function FormError({ error }: { error: ApiError | null }) {
  if (!error) return null;
  return <Alert kind="error">{error.message}</Alert>;
}

export const onSubmit = (handler: () => void) => (event: FormEvent) => {
  event.preventDefault();
  handler();
};
