import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, GoogleGenAI, createPartFromUri, type File as GeminiFile, type SafetySetting } from '@google/genai';
import { annotationJsonSchema, contentMetadataSchema } from '@finevideo/dataset';
import { generateVideo, mp4DurationSeconds, sampleAnnotation, startFakeGemini, type FakeGemini, type FakeGeminiOptions, type FakeGeminiRequest, type GeminiFaultKind } from '@finevideo/testing';

/** The stage's path, in short: upload, poll until ACTIVE (or FAILED), generate with the file and the schema, delete. */
async function annotateOnce(ai: GoogleGenAI, video: string, displayName: string, opts: { timeoutMs?: number; json?: boolean } = {}) {
  const file = await ai.files.upload({ file: video, config: { mimeType: 'video/mp4', displayName } });
  try {
    let current: GeminiFile = file;
    while (current.state === 'PROCESSING') current = await ai.files.get({ name: file.name! });
    if (current.state !== 'ACTIVE') return { file: current, text: undefined, response: undefined };
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [{ role: 'user', parts: [createPartFromUri(current.uri!, current.mimeType!), { text: `Annotate the video "${displayName}".` }] }],
      config: {
        ...(opts.json === false ? {} : { responseMimeType: 'application/json', responseSchema: annotationJsonSchema() }),
        ...(opts.timeoutMs ? { httpOptions: { timeout: opts.timeoutMs } } : {}),
      },
    });
    return { file: current, text: response.text, response };
  } finally {
    await ai.files.delete({ name: file.name! });
  }
}

async function expectApiError(p: Promise<unknown>, status: number): Promise<{ error: { code: number; message: string; status: string; details?: unknown[] } }> {
  const e = await p.then(() => assert.fail(`expected an ApiError ${status}`), (err: unknown) => err);
  assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
  assert.equal(e.status, status);
  return JSON.parse(e.message) as { error: { code: number; message: string; status: string; details?: unknown[] } };
}

describe('fake Gemini API with the real @google/genai SDK', function () {
  let dir: string;
  let video: string;
  let fake: FakeGemini | undefined;
  const start = async (options: FakeGeminiOptions = {}) => {
    fake = await startFakeGemini(options);
    return { fake, ai: new GoogleGenAI({ apiKey: fake.apiKey, httpOptions: { baseUrl: fake.baseUrl } }) };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-gemini-'));
    video = join(dir, 'clip.mp4');
    await generateVideo(video, { sections: [{ kind: 'motion', seconds: 12 }], audio: true });
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('uploads, polls PROCESSING then ACTIVE, answers a schema-valid annotation fitted to the video, deletes', async () => {
    const { fake, ai } = await start({ processingPolls: 2 });
    const { file, text, response } = await annotateOnce(ai, video, 'vid00000001');
    assert.equal(file.state, 'ACTIVE');
    assert.equal(file.sizeBytes, String((await stat(video)).size));
    assert.equal(file.displayName, 'vid00000001');
    const annotation = contentMetadataSchema.parse(JSON.parse(text!));
    const last = annotation.scenes.at(-1)!.timestamps.end_timestamp;
    assert.equal(last, '00:00:12', 'the last scene ends at the video duration (read from the mp4)');
    const usage = response!.usageMetadata!;
    assert.equal(usage.totalTokenCount, usage.promptTokenCount! + usage.candidatesTokenCount!);
    assert.deepEqual(usage.promptTokensDetails!.map((d) => d.modality), ['TEXT', 'VIDEO', 'AUDIO']);
    assert.equal(usage.promptTokensDetails![1]!.tokenCount, 12 * 258);
    assert.equal(response!.candidates![0]!.finishReason, 'STOP');
    assert.equal(fake.stats.uploads, 1);
    assert.equal(fake.stats.gets, 3, 'two PROCESSING answers, then ACTIVE');
    assert.equal(fake.stats.deletes, 1);
    assert.equal(fake.stats.aliveFiles.size, 0);
    assert.equal(fake.stats.generateCalls.ok, 1);
    assert.equal(fake.stats.okByDisplayName.get('vid00000001'), 1);
    assert.equal(fake.stats.generateByFile.get(file.name!), 1);
    assert.equal(fake.stats.usage.totalTokenCount, usage.totalTokenCount);
  });

  it('reads the duration of an mp4 whose index (moov) is at the end', async () => {
    const late = join(dir, 'late-moov.mp4');
    await generateVideo(late, { sections: [{ kind: 'still', seconds: 3 }], faststart: false });
    const bytes = await readFile(late);
    assert.notEqual(bytes.indexOf('moov'), -1);
    assert.ok(bytes.indexOf('moov') > bytes.indexOf('mdat'), 'moov after mdat');
    assert.equal(mp4DurationSeconds(bytes), 3);
    assert.equal(mp4DurationSeconds(Buffer.from('not an mp4 at all')), undefined);
  });

  it('answers free text when no JSON is asked for, and what the answer callback says', async () => {
    const { ai } = await start({ answer: (r) => (r.json ? '{"x":1}' : `seen ${r.files.length} file(s), ${Math.round(r.files[0]!.durationSeconds!)} s: ${r.prompt}`) });
    const { text } = await annotateOnce(ai, video, 'vid00000002', { json: false });
    assert.equal(text, 'seen 1 file(s), 12 s: Annotate the video "vid00000002".');
  });

  it('a file that fails processing is FAILED, and generateContent refuses a file that is not ACTIVE', async () => {
    const { fake, ai } = await start({ processingPolls: 3, fileState: () => 'FAILED' });
    const { file } = await annotateOnce(ai, video, 'vid00000003');
    assert.equal(file.state, 'FAILED');
    assert.ok(file.error?.message);
    assert.equal(fake.stats.faults['failed-processing'], 1);
    const uploaded = await ai.files.upload({ file: video, config: { mimeType: 'video/mp4' } });
    const body = await expectApiError(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [createPartFromUri(uploaded.uri!, 'video/mp4')] }] }), 400);
    assert.equal(body.error.status, 'FAILED_PRECONDITION');
    await ai.files.delete({ name: uploaded.name! });
    assert.equal(fake.stats.aliveFiles.size, 0);
  });

  it('refuses a wrong key as Google does (400 API_KEY_INVALID), a missing one with 403, an unknown model with 404, a deleted file with 403', async () => {
    const { fake } = await start();
    const wrong = new GoogleGenAI({ apiKey: 'not-the-key', httpOptions: { baseUrl: fake.baseUrl } });
    const body = await expectApiError(wrong.files.upload({ file: video, config: { mimeType: 'video/mp4' } }), 400);
    assert.equal(body.error.status, 'INVALID_ARGUMENT');
    assert.match(JSON.stringify(body.error.details), /API_KEY_INVALID/);
    await expectApiError(wrong.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }), 400);
    const noKey = await fetch(`${fake.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', body: '{}' });
    assert.equal(noKey.status, 403);
    assert.equal(((await noKey.json()) as { error: { status: string } }).error.status, 'PERMISSION_DENIED');
    const ai = new GoogleGenAI({ apiKey: fake.apiKey, httpOptions: { baseUrl: fake.baseUrl } });
    const notFound = await expectApiError(ai.models.generateContent({ model: 'gemini-9-ultra', contents: 'hi' }), 404);
    assert.equal(notFound.error.status, 'NOT_FOUND');
    const f = await ai.files.upload({ file: video, config: { mimeType: 'video/mp4' } });
    await ai.files.delete({ name: f.name! });
    await expectApiError(ai.files.get({ name: f.name! }), 403);
    await expectApiError(ai.files.delete({ name: f.name! }), 403);
    assert.equal(fake.stats.unauthorized, 3);
  });

  for (const status of [401, 403] as const) {
    it(`wrongKeyStatus ${status} answers a wrong key with ${status}`, async () => {
      const { fake } = await start({ wrongKeyStatus: status });
      const wrong = new GoogleGenAI({ apiKey: 'nope', httpOptions: { baseUrl: fake.baseUrl } });
      const body = await expectApiError(wrong.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }), status);
      assert.equal(body.error.status, status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED');
    });
  }

  it('surfaces each generateContent fault as the SDK reports it', async () => {
    let next: Exclude<GeminiFaultKind, 'failed-processing'> | undefined;
    const { fake, ai } = await start({ faults: { rate: 0, decide: () => next, retryAfterSeconds: 7, slowMs: 5_000 } });
    const run = (kind: typeof next, timeoutMs?: number) => {
      next = kind;
      return annotateOnce(ai, video, `fault-${kind}`, { timeoutMs });
    };
    const e429 = await expectApiError(run('429'), 429);
    assert.equal(e429.error.status, 'RESOURCE_EXHAUSTED');
    assert.match(JSON.stringify(e429.error.details), /"retryDelay":"7s"/);
    assert.equal((await expectApiError(run('500'), 500)).error.status, 'INTERNAL');
    assert.equal((await expectApiError(run('503'), 503)).error.status, 'UNAVAILABLE');
    const slow = await run('slow', 200).then(() => undefined, (e: unknown) => e);
    assert.ok(slow instanceof Error && slow.name === 'AbortError', `expected the client's timeout to abort, got ${String(slow)}`);
    const invalid = await run('invalid-json');
    assert.throws(() => JSON.parse(invalid.text!), SyntaxError);
    const broken = await run('schema-invalid');
    assert.equal(contentMetadataSchema.safeParse(JSON.parse(broken.text!)).success, false);
    const truncated = await run('truncated');
    assert.equal(truncated.response!.candidates![0]!.finishReason, 'MAX_TOKENS');
    assert.throws(() => JSON.parse(truncated.text!), SyntaxError);
    assert.deepEqual(
      Object.fromEntries(Object.entries(fake.stats.faults).filter(([, n]) => n > 0)),
      { '429': 1, '500': 1, '503': 1, slow: 1, 'invalid-json': 1, 'schema-invalid': 1, truncated: 1 },
    );
    assert.equal(fake.stats.generateCalls.slow, 1);
    assert.equal(fake.stats.aliveFiles.size, 0, 'every file deleted, faults or not');
  });

  it('uploads a Blob of more than one 8 MiB chunk (upload, then upload+finalize at the right offsets)', async () => {
    const { fake, ai } = await start({ processingPolls: 0 });
    const bytes = new Uint8Array(9 * 1024 * 1024 + 5).map((_, i) => i % 251);
    const file = await ai.files.upload({ file: new Blob([bytes], { type: 'application/octet-stream' }), config: { displayName: 'big' } });
    assert.equal(file.state, 'ACTIVE', 'processingPolls 0: active at once');
    assert.equal(file.sizeBytes, String(bytes.length));
    assert.equal(file.sha256Hash, (await import('node:crypto')).createHash('sha256').update(bytes).digest('base64'));
    assert.equal(fake.stats.files.get(file.name!)!.durationSeconds, undefined, 'not an mp4: no duration');
    const listed: string[] = [];
    for await (const f of await ai.files.list({ config: { pageSize: 1 } })) listed.push(f.name!);
    assert.deepEqual(listed, [file.name]);
    const model = await ai.models.get({ model: 'gemini-2.5-pro' });
    assert.equal(model.name, 'models/gemini-2.5-pro');
    await expectApiError(ai.models.get({ model: 'gemini-0' }), 404);
    await ai.files.delete({ name: file.name! });
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  it('counts tokens of inline video, serves many calls at once, and refuses a responseSchema with fields Gemini does not know', async () => {
    // The answers wait until all eight calls are in: the fake serves them at once (no timing involved).
    let arrived = 0;
    let allIn: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (allIn = resolve));
    const answer = async (r: FakeGeminiRequest) => {
      if (++arrived === 8) allIn();
      await barrier;
      return JSON.stringify(sampleAnnotation({ durationSeconds: r.inline[0]!.durationSeconds! }));
    };
    const { fake, ai } = await start({ latencyMs: [1, 5], thoughtsTokens: 100, answer });
    const data = (await import('node:fs/promises')).readFile(video).then((b) => b.toString('base64'));
    const ask = async () => ai.models.generateContent({ model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'video/mp4', data: await data } }, { text: 'Describe.' }] }], config: { responseMimeType: 'application/json', responseJsonSchema: annotationJsonSchema() } });
    const answers = await Promise.all(Array.from({ length: 8 }, ask));
    for (const r of answers) {
      assert.equal(contentMetadataSchema.safeParse(JSON.parse(r.text!)).success, true);
      const u = r.usageMetadata!;
      assert.equal(u.thoughtsTokenCount, 100);
      assert.equal(u.totalTokenCount, u.promptTokenCount! + u.candidatesTokenCount! + 100);
    }
    assert.equal(fake.stats.maxConcurrentGenerate, 8);
    assert.equal(fake.stats.usage.responses, 8);
    assert.equal(fake.stats.usage.promptByModality.VIDEO, 8 * 12 * 258);
    // responseSchema takes Gemini's Schema (the SDK drops additionalProperties); an unknown field is a 400.
    const body = await expectApiError(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { responseMimeType: 'application/json', responseSchema: { type: 'object', properties: { a: { type: 'string', const: 'x' } } } } }), 400);
    assert.match(body.error.message, /Unknown name "const" at 'generation_config\.response_schema\.properties\[a\]\.value'/);
    await expectApiError(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { responseSchema: { type: 'object' } } }), 400);
  });

  it('takes the product responseJsonSchema (annotationJsonSchema) and safety settings as the SDK sends them; refuses unsupported keywords, bad $refs, deep or huge schemas and bad safety settings with 400 INVALID_ARGUMENT', async () => {
    const { fake, ai } = await start();
    const ask = (config: Record<string, unknown>) => ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Describe.', config: { responseMimeType: 'application/json', ...config } });
    const productSafety: SafetySetting[] = ['HARM_CATEGORY_HARASSMENT', 'HARM_CATEGORY_HATE_SPEECH', 'HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_DANGEROUS_CONTENT'].map((category) => ({ category: category as SafetySetting['category'], threshold: 'BLOCK_NONE' as SafetySetting['threshold'] }));
    const ok = await ask({ responseJsonSchema: annotationJsonSchema(), safetySettings: productSafety });
    assert.equal(contentMetadataSchema.safeParse(JSON.parse(ok.text!)).success, true);
    assert.deepEqual(fake.stats.generateCalls.rejected, 0);
    // $defs and $ref (with $-siblings only), anyOf/oneOf, prefixItems, enums of strings and numbers: all supported.
    await ask({ responseJsonSchema: { $defs: { t: { type: 'string', enum: ['a', 'b'] } }, type: 'object', properties: { x: { $ref: '#/$defs/t' }, y: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] }, z: { type: 'array', prefixItems: [{ type: 'number', enum: [1, 2] }] } }, required: ['x'], additionalProperties: false } });
    const refused = async (config: Record<string, unknown>, message: RegExp) => {
      const body = await expectApiError(ask(config), 400);
      assert.equal(body.error.status, 'INVALID_ARGUMENT');
      assert.match(body.error.message, message);
      return body;
    };
    await refused({ responseJsonSchema: { type: 'object', properties: { a: { type: 'string', const: 'x' } } } }, /unsupported keyword "const" at \/properties\/a/);
    await refused({ responseJsonSchema: { type: 'object', properties: { a: { type: 'string', pattern: '^x$' } } } }, /unsupported keyword "pattern"/);
    await refused({ responseJsonSchema: { type: 'object', not: { type: 'string' } } }, /unsupported keyword "not" at \(root\)/);
    await refused({ responseJsonSchema: { $defs: { t: { type: 'string' } }, properties: { a: { $ref: '#/$defs/t', description: 'x' } } } }, /"\$ref" may set no other property/);
    await refused({ responseJsonSchema: { properties: { a: { $ref: '#/$defs/missing' } } } }, /does not name a schema/);
    await refused({ responseJsonSchema: { type: 'object', properties: { a: { enum: [true, false] } } } }, /"enum" must be a non-empty list of strings or numbers/);
    await refused({ responseJsonSchema: { type: 'text' } }, /invalid "type" "text"/);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 12; i++) deep = { type: 'array', items: deep };
    await refused({ responseJsonSchema: deep }, /exceeds the maximum allowed nesting depth/);
    const huge = { type: 'object', properties: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`property_with_a_long_name_${i}`, { type: 'string' }])) };
    await refused({ responseJsonSchema: huge }, /too many states for serving/);
    const category = await refused({ safetySettings: [{ category: 'HARM_CATEGORY_NOT_A_THING', threshold: 'BLOCK_NONE' }] }, /Invalid value at 'safety_settings\[0\]\.category' \(type\.googleapis\.com\/google\.ai\.generativelanguage\.v1(beta)?\.HarmCategory\), "HARM_CATEGORY_NOT_A_THING"/);
    assert.deepEqual(category.error.details, [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'safety_settings[0].category', description: category.error.message }] }]);
    await refused({ safetySettings: [...productSafety, { category: 'HARM_CATEGORY_HATE_SPEECH', threshold: 'BLOCK_SOME' }] }, /safety_settings\[4\]\.threshold/);
    await refused({ safetySettings: [{ category: 'HARM_CATEGORY_IMAGE_HATE', threshold: 'OFF' }] }, /safety_settings\[0\]: element predicate failed: \$\.category in \(HarmCategory\.HARM_CATEGORY_HARASSMENT/);
    assert.equal(fake.stats.generateCalls.rejected, 12);
    assert.equal(fake.stats.generateCalls.ok, 2);
  });

  it('faults Files API calls too when asked (filesEndpoints), transient kinds only', async () => {
    const { fake, ai } = await start({ faults: { rate: 0.5, seed: 3, kinds: ['503', 'truncated'], filesEndpoints: ['upload', 'get', 'delete'] } });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) await annotateOnce(ai, video, `f${i}`).catch((e: unknown) => statuses.push((e as ApiError).status));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 503), statuses.join(','));
    const { upload, get, delete: del } = fake.stats.filesFaults;
    assert.ok(upload + get + del > 0);
    assert.equal(fake.stats.aliveFiles.size, del, 'a failed delete leaves its file alive (the stage must retry it)');
  });

  it('draws faults at the given rate from a seed, reproducibly', async () => {
    const draw = async () => {
      const { fake, ai } = await start({ faults: { rate: 0.5, seed: 42, kinds: ['500', 'invalid-json', 'failed-processing'] } });
      const seen: string[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await annotateOnce(ai, video, `v${i}`).then((x) => (x.file.state === 'FAILED' ? 'FAILED' : x.text!.startsWith('{') && !x.text!.endsWith(',}') ? 'ok' : 'bad-json'), (e: unknown) => `status ${(e as ApiError).status}`);
        seen.push(r);
      }
      const faults = { ...fake.stats.faults };
      await fake.close();
      return { seen, faults };
    };
    const a = await draw();
    const b = await draw();
    assert.deepEqual(a, b);
    assert.ok(a.seen.includes('ok') && a.seen.some((s) => s !== 'ok'), a.seen.join(', '));
  });
});
