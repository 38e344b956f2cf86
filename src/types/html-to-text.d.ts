// html-to-text (a dependency of mailparser, used for HTML-only bodies) ships no types: what we call.
declare module 'html-to-text' {
  export interface HtmlToTextOptions {
    wordwrap?: number | false | null;
    limits?: { maxDepth?: number; maxInputLength?: number; maxChildNodes?: number };
    selectors?: Array<{ selector: string; format?: string; options?: Record<string, unknown> }>;
  }
  export function htmlToText(html: string, options?: HtmlToTextOptions): string;
}
