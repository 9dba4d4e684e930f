import type { ChatContentPart, ChatMessage } from '@finevideo/llm';
import { FrameSamplingError, sampleFrames } from '@finevideo/media';
import { CONCISE_SUFFIX, buildPrompt, repairInstruction } from '../prompt.js';
import { ItemFailure } from '../retry.js';
import { hhmmss } from '../transcript.js';
import { chatForAnnotation } from './openai.js';
import type { AskOptions, Answer, Backend, BackendContext, Session, VideoInput } from './types.js';

const FRAMES_NOTE = 'The video is given as frames sampled in time order; each frame is preceded by its time. The transcript in the prompt carries the sound.';

/**
 * openai-vision: an open vision-language model on our GPU pool (vLLM or TGI, OpenAI-compatible chat).
 * Frames are sampled once per video (one ffmpeg decode, JPEG in memory) and sent as image_url data
 * URLs, each after its time, with the prompt and the timecoded transcript; the schema is response_format,
 * all in the server's dialect (libs/llm: TGI from 2.0.2 takes image parts, vLLM and OpenAI do).
 */
class VisionSession implements Session {
  constructor(private readonly video: VideoInput, private readonly ctx: BackendContext, private readonly frames: ChatContentPart[], private readonly imageTokens: number) {}

  async ask(options: AskOptions): Promise<Answer> {
    const prompt = buildPrompt(this.ctx.params.prompt, this.video) + (options.concise ? CONCISE_SUFFIX : '');
    const messages: ChatMessage[] = [
      { role: 'user', content: [{ type: 'text', text: `${FRAMES_NOTE}\n\n${prompt}` }, ...this.frames] },
    ];
    if (options.repair && !options.concise) messages.push({ role: 'assistant', content: options.repair.raw.slice(0, 200_000) }, { role: 'user', content: repairInstruction(options.repair.problems) });
    return chatForAnnotation(this.ctx, messages, this.imageTokens + Math.ceil(prompt.length / 4));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const openaiVisionBackend: Backend = {
  check: () => undefined,
  open: async (video, ctx) => {
    const p = ctx.params;
    let frames;
    try {
      frames = await sampleFrames(video.videoPath, { fps: p.framesPerSecond, maxFrames: p.maxFrames, maxSide: p.frameMaxSide, signal: ctx.signal, ...(video.durationSeconds > 0 ? { durationSeconds: video.durationSeconds } : {}) });
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      if (e instanceof FrameSamplingError) throw new ItemFailure(`frames-failed: ${e.message.slice(0, 300)}`);
      throw e;
    }
    if (!frames.length) throw new ItemFailure(`frames-failed: no frame could be sampled from ${video.videoId}`);
    ctx.count('annotate_frames', frames.length);
    const parts: ChatContentPart[] = [];
    for (const f of frames) {
      parts.push({ type: 'text', text: `[${hhmmss(f.timeSeconds)}]` });
      parts.push({ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${f.jpeg.toString('base64')}` } });
    }
    // About 85 + 170 per 512 px tile for each image (OpenAI's formula; vLLM models differ), for the token budget.
    const tiles = Math.ceil(p.frameMaxSide / 512) ** 2;
    return new VisionSession(video, ctx, parts, frames.length * (85 + 170 * tiles));
  },
};
