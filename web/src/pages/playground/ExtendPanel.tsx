// "Continue with more budget": a finished job resumes from its checkpoint under a dearer mode or
// a larger credit cap, keeps its id, and is charged only the difference (POST …/extend).
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { newIdempotencyKey } from "../../lib/idempotency";
import { type ModeInfo, modeName, type Result } from "../../lib/research";
import { Button, FormError, onSubmit, Select, TextField, useSubmit } from "../../ui/kit";

const CAP = "cap";
// The stop reasons the API extends from (others answer 409 not_extendable).
const EXTENDABLE: ReadonlySet<string> = new Set<Schemas["StopReason"]>(["complete", "budget", "deadline"]);

export const canExtend = (result: Result) => result.status === "succeeded" && !!result.stop_reason && EXTENDABLE.has(result.stop_reason);

export function ExtendPanel({ result, modes, onExtended }: { result: Result; modes: ModeInfo[]; onExtended: () => void }) {
  const charged = result.credits_charged;
  const dearer = modes.filter((m) => m.price_credits !== null && m.price_credits > charged);
  const [choice, setChoice] = useState<string>(dearer[0]?.mode ?? CAP);
  const [cap, setCap] = useState(String(charged + 50));
  const [key, setKey] = useState(newIdempotencyKey); // one per extension, kept across its retries
  const picked = dearer.find((m) => m.mode === choice);
  const more = picked?.price_credits != null ? picked.price_credits - charged : Number(cap) - charged;
  const extend = useSubmit(async () => {
    await unwrap(
      api.POST("/api/playground/research/{id}/extend", {
        params: { path: { id: result.id }, header: { "Idempotency-Key": key } },
        body: picked ? { mode: picked.mode } : { max_credits: Number(cap) },
      }),
    );
    setKey(newIdempotencyKey());
    onExtended();
  });
  const options = [
    ...dearer.map((m) => ({ value: m.mode, label: `${modeName(m.mode)} · ${fmt.credits(m.price_credits ?? 0)} in total` })),
    { value: CAP, label: "A credit cap (metered)" },
  ];
  return (
    <form className="inline-form extend-form" onSubmit={onSubmit(() => void extend.run())} noValidate aria-label="Continue with more budget">
      <Select label="Continue as" options={options} value={choice} onChange={(e) => setChoice(e.target.value)} error={extend.fields.mode} />
      {!picked && (
        <TextField label="New credit cap (in total)" type="number" inputMode="numeric" min={charged + 1} value={cap}
          onChange={(e) => setCap(e.target.value)} error={extend.fields.max_credits}
          hint={`Includes the ${fmt.credits(charged)} already charged; you pay for what the continuation uses.`} />
      )}
      <Button type="submit" busy={extend.busy} disabled={!(more > 0)}>
        Continue with more budget{more > 0 ? ` · ${fmt.credits(more)} more` : ""}
      </Button>
      <FormError error={extend.error} />
    </form>
  );
}
