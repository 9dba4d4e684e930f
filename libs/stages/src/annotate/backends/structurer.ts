import type { ChatMessage } from '@finevideo/llm';
import { geminiBackend, openGeminiSession } from './gemini.js';
import { chatForAnnotation } from './openai.js';
import { repairInstruction } from '../prompt.js';
import type { AskOptions, Answer, Backend, BackendContext, Session, VideoInput } from './types.js';

const STRUCTURE_INSTRUCTION = 'Below is a free-text annotation of one video. Rewrite it as one JSON object that follows the given schema exactly: keep every fact and time it states, add nothing it does not say, and use empty lists or strings where it says nothing.';

/**
 * gemini+structurer, the original's two steps: Gemini describes the video in free text, then an
 * OpenAI-compatible model turns that text into the schema's JSON (response_format json_schema, strict).
 * A schema problem is repaired by the structurer alone; a cut-off answer asks Gemini again, concisely.
 */
class StructurerSession implements Session {
  private text: string | undefined;
  constructor(private readonly gemini: Session, private readonly ctx: BackendContext) {}

  async ask(options: AskOptions): Promise<Answer> {
    if (this.text === undefined || options.concise) {
      const free = await this.gemini.ask({ concise: options.concise });
      this.text = free.raw;
      this.ctx.count('annotate_free_text_chars', free.raw.length);
    }
    const messages: ChatMessage[] = [
      { role: 'system', content: STRUCTURE_INSTRUCTION },
      { role: 'user', content: this.text },
    ];
    if (options.repair && !options.concise) messages.push({ role: 'assistant', content: options.repair.raw.slice(0, 200_000) }, { role: 'user', content: repairInstruction(options.repair.problems) });
    return chatForAnnotation(this.ctx, messages, Math.ceil(this.text.length / 4) + 2_000);
  }

  close(): Promise<void> {
    return this.gemini.close();
  }
}

export const structurerBackend: Backend = {
  check: (ctx) => geminiBackend.check(ctx),
  open: async (video: VideoInput, ctx: BackendContext) => new StructurerSession(await openGeminiSession(video, ctx, { json: false }), ctx),
};
