/** Durations ("30s", "1m", "45m", "5d") and sizes ("10MB", "512KB", "1048576") as the admin types them. */

const durationUnits: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const sizeUnits: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** Milliseconds for a duration, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/i.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * (durationUnits[match[2]!.toLowerCase()] ?? NaN);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Bytes for a size, or undefined when the text is not one. Units are powers of 1024. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = (match[2] ?? 'B').toUpperCase();
  const bytes = Number(match[1]) * (sizeUnits[unit] ?? NaN);
  if (!Number.isFinite(bytes)) return undefined;
  if (!match[2] && !Number.isInteger(bytes)) return undefined;
  return Math.round(bytes);
}

/** The shortest exact text for a duration: 1800000 → "30m". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = durationUnits[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}

/** The shortest exact text for a size: 10485760 → "10MB". */
export function formatSize(bytes: number): string {
  for (const unit of ['GB', 'MB', 'KB'] as const) {
    const size = sizeUnits[unit]!;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** A measured size for people ("4.2 MB"); config values keep formatSize's exact form. */
export function approxSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const [value, unit] = bytes < 1024 ** 2 ? [bytes / 1024, 'KB'] : bytes < 1024 ** 3 ? [bytes / 1024 ** 2, 'MB'] : [bytes / 1024 ** 3, 'GB'];
  return `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}
