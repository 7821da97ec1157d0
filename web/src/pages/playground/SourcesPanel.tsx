// The playground's "Sources" panel: what a job may read — the web (or the server's corpus) and
// the account's own collections — summarised on one line while it is folded.
import { useEffect, useRef } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { Async, Checkbox } from "../../ui/kit";

type Request = Schemas["ResearchRequest"];

export type SourceChoice = { web: boolean; collections: string[] };

export const ALL_OF_THE_WEB: SourceChoice = { web: true, collections: [] };

/** The request fields for a choice; a default choice adds none (the request stays as it was). */
export function sourceFields(choice: SourceChoice): Pick<Request, "web" | "collections"> {
  if (!choice.collections.length) return choice.web ? {} : { web: false };
  return { collections: choice.collections, web: choice.web };
}

function summary(choice: SourceChoice): string {
  const picked = choice.collections.length;
  const collections = picked ? `${picked} collection${picked === 1 ? "" : "s"}` : "";
  if (choice.web) return collections ? `Web + ${collections}` : "Web";
  return collections ? `${collections} only` : "Nothing to search";
}

export function SourcesPanel({ value, onChange, errors }: { value: SourceChoice; onChange: (choice: SourceChoice) => void; errors: (string | undefined)[] }) {
  const collections = useAsync(() => unwrap(api.GET("/api/collections", { params: { query: { limit: 200 } } })), []);
  const toggle = (id: string, on: boolean) =>
    onChange({ ...value, collections: on ? [...value.collections, id] : value.collections.filter((c) => c !== id) });
  const shown = errors.filter(Boolean);
  const panel = useRef<HTMLDetailsElement>(null);
  const problem = shown.join("\n");
  useEffect(() => {
    if (problem && panel.current) panel.current.open = true; // the server named one of these fields
  }, [problem]);
  return (
    <details className="panel" ref={panel}>
      <summary>
        Sources <span className="muted">· {summary(value)}</span>
      </summary>
      <div className="panel-body">
        <Checkbox label="Search the web" hint="Off: only the collections you pick are searched." checked={value.web}
          onChange={(e) => onChange({ ...value, web: e.target.checked })} />
        <fieldset>
          <legend>Your collections</legend>
          <Async state={collections}>
            {(list) =>
              list.length ? (
                <div className="picks">
                  {list.map((c) => (
                    <Checkbox key={c.id} label={c.name} hint={`${fmt.count(c.documents)} document${c.documents === 1 ? "" : "s"}`}
                      checked={value.collections.includes(c.id)} onChange={(e) => toggle(c.id, e.target.checked)} />
                  ))}
                </div>
              ) : (
                <p className="muted small">
                  No collections yet. <Link href="/collections">Upload your files</Link> to research them.
                </p>
              )
            }
          </Async>
        </fieldset>
        {shown.map((error) => (
          <p key={error} className="field-error" role="alert">{error}</p>
        ))}
      </div>
    </details>
  );
}
