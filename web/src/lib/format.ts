// Display formats: money is integers (credits, cents, micro-dollars) until it is shown.
const numberFormat = new Intl.NumberFormat("en-US");
const usdFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const dateTime = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });
const shortDay = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

export const credits = (n: number) => `${numberFormat.format(n)} credit${n === 1 ? "" : "s"}`;
export const count = (n: number) => numberFormat.format(n);
export const cents = (n: number) => usdFormat.format(n / 100);
export const micros = (n: number) => usdFormat.format(n / 1_000_000);
export const creditsUsd = (n: number) => usdFormat.format(n / 100); // 1 credit = US$0.01
export const day = (iso: string) => shortDay.format(new Date(iso));
export const when = (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : "—");
export const latency = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "—" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

export function ago(iso: string | null | undefined): string {
  if (!iso) return "never";
  const secs = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (secs < 60) return "just now";
  const [value, unit] =
    secs < 3600 ? [secs / 60, "minute"] : secs < 86400 ? [secs / 3600, "hour"] : [secs / 86400, "day"];
  const n = Math.floor(value);
  return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
}

/** A file size: "812 B", "3.4 KB", "18 MB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The API's decimal USD string ("12.34") as money. */
export const usdString = (usd: string) => (Number.isFinite(Number(usd)) ? usdFormat.format(Number(usd)) : usd);
export const usd = (n: number) => usdFormat.format(n);
