import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type ChatMessageV1, formatValue, InvalidArgumentError } from '@hicra/spec';
import { parse, Template, tokenize } from '@huggingface/jinja';
import {
  checkDir,
  fileConfigError,
  isPlainObject,
  readOptionalJsonObject,
  readOptionalText,
  SOURCE,
} from './json-file.js';

/**
 * One message of a conversation (`@hicra/spec`'s `ChatMessageV1`). Fields other than `role` and
 * `content` (`tool_calls`, `reasoning_content`, ...) reach the template as they are.
 */
export type ChatMessage = ChatMessageV1;

/** How {@link ChatTemplate.render} renders a conversation. */
export interface ChatRenderOptions {
  /** End with the header of an assistant turn (`add_generation_prompt`). Default false. */
  readonly addGenerationPrompt?: boolean;
  /** Tool descriptions as JSON schemas (`tools`). Default none (`null`, as transformers passes). */
  readonly tools?: readonly unknown[];
  /**
   * Further template variables, by the names the template reads (`enable_thinking: false` for
   * Qwen3, `documents`, ...). They may override the special tokens (`bos_token`, ...).
   */
  readonly [variable: string]: unknown;
}

/** A model's chat template, read by {@link readChatTemplate}. */
export interface ChatTemplate {
  /** Its file: `chat_template.jinja`, another `.jinja` or `tokenizer_config.json`. */
  readonly file: string;
  /** The template's name: `default` unless another was asked for. */
  readonly name: string;
  /** The Jinja source. */
  readonly source: string;
  /**
   * The special tokens of `tokenizer_config.json` by their transformers names (`bos_token`,
   * `eos_token`, `unk_token`, `sep_token`, `pad_token`, `cls_token`, `mask_token`), those it sets;
   * each is a template variable.
   */
  readonly specialTokens: Readonly<Record<string, string>>;
  /**
   * The conversation as the model's prompt text, rendered as transformers' `apply_chat_template`
   * renders it (`tokenize=False`) with the variables `messages`, `add_generation_prompt`, `tools`,
   * `documents` (`null` unless given), the special tokens and the extra options. The text holds
   * the special tokens as text: encode it without adding special tokens.
   *
   * The engine is `@huggingface/jinja`, a JavaScript Jinja written for chat templates, not
   * Python's jinja2: the Qwen3 and Llama 3 templates of the tests render what jinja2 renders,
   * but a template that prints a boolean gets `true` where jinja2 writes `True`, and one using a
   * feature the engine lacks throws the `ConfigError` below.
   *
   * Throws `InvalidArgumentError` for malformed messages or options, and for a conversation the
   * template refuses with `raise_exception(message)` (the error carries the template's message);
   * a template the Jinja engine fails on throws a `ConfigError` naming the file.
   */
  render(messages: readonly ChatMessage[], options?: ChatRenderOptions): string;
}

export interface ReadChatTemplateOptions {
  /** The template to use where a folder has several (`tool_use`, `rag`, ...). Default `default`. */
  readonly name?: string;
}

const TOKENIZER_CONFIG = 'tokenizer_config.json';
const TEMPLATE_FILE = 'chat_template.jinja';
const TEMPLATE_DIR = 'additional_chat_templates';
const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;
/** The variable that `raise_exception` is rebound to, so that its errors are told apart. */
const RAISE = '__hicra_raise_exception__';
/** Names the Jinja engine declares itself, or that the options set under other names. */
const RESERVED = new Set([
  'messages',
  'add_generation_prompt',
  'raise_exception',
  'range',
  'strftime_now',
  'namespace',
  'true',
  'false',
  'none',
  'True',
  'False',
  'None',
  RAISE,
]);

/** What `raise_exception(message)` throws inside a template. */
class TemplateRaise extends Error {}

interface TemplateText {
  readonly file: string;
  readonly source: string;
  /** Where in `file` it sits, for errors: `chat_template`, `chat_template[1].template` or `''`. */
  readonly key: string;
}

/**
 * Reads the chat template of the model folder `dir`; `undefined` when it has none.
 *
 * Where it looks, as transformers does: standalone template files first, `chat_template.jinja`
 * (the default) and `additional_chat_templates/<name>.jinja`; when there is none of them, the
 * `chat_template` of `tokenizer_config.json`, a string (the default) or a list of
 * `{ name, template }`. The special tokens always come from `tokenizer_config.json`
 * (`"<s>"` or `{ "content": "<s>", ... }`).
 *
 * The template is parsed here: a template the Jinja engine cannot parse, a malformed
 * `tokenizer_config.json`, or a folder with templates but none of the name asked for throws a
 * `ConfigError` naming the file.
 */
export async function readChatTemplate(
  dir: string,
  options: ReadChatTemplateOptions = {},
): Promise<ChatTemplate | undefined> {
  checkDir(dir, 'readChatTemplate');
  const name = options?.name ?? 'default';
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidArgumentError('readChatTemplate: options.name must be a non-empty string', {
      source: SOURCE,
      details: { argument: 'options.name', actual: formatValue(name) },
    });
  const folder = resolve(dir);
  const configFile = join(folder, TOKENIZER_CONFIG);
  const config = (await readOptionalJsonObject(configFile)) ?? {};
  const specialTokens = readSpecialTokens(config, configFile);

  const templates =
    (await readTemplateFiles(folder)) ?? readConfigTemplates(config['chat_template'], configFile);
  if (templates.size === 0) return undefined;
  const chosen = templates.get(name);
  if (chosen === undefined) {
    const file = [...templates.values()][0]?.file ?? configFile;
    const known = [...templates.keys()].map((n) => JSON.stringify(n)).join(', ');
    throw fileConfigError(
      file,
      'chat_template',
      `has no chat template named ${JSON.stringify(name)}; it has ${known}`,
    );
  }
  return createChatTemplate(name, chosen, specialTokens);
}

/** The standalone template files by name, or `undefined` when there are none. */
async function readTemplateFiles(folder: string): Promise<Map<string, TemplateText> | undefined> {
  const templates = new Map<string, TemplateText>();
  const main = join(folder, TEMPLATE_FILE);
  const source = await readOptionalText(main);
  if (source !== undefined) templates.set('default', { file: main, source, key: '' });

  const extraDir = join(folder, TEMPLATE_DIR);
  let names: string[] = [];
  try {
    names = await readdir(extraDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      throw fileConfigError(extraDir, '', `cannot be read (${code ?? String(error)})`, error);
  }
  for (const entry of names.filter((n) => n.endsWith('.jinja')).sort()) {
    const file = join(extraDir, entry);
    const text = await readOptionalText(file);
    if (text !== undefined)
      templates.set(entry.slice(0, -'.jinja'.length), { file, source: text, key: '' });
  }
  return templates.size === 0 ? undefined : templates;
}

/** The `chat_template` of `tokenizer_config.json` by name (empty when it has none). */
function readConfigTemplates(value: unknown, file: string): Map<string, TemplateText> {
  const templates = new Map<string, TemplateText>();
  if (value === undefined || value === null) return templates;
  if (typeof value === 'string') {
    templates.set('default', { file, source: value, key: 'chat_template' });
    return templates;
  }
  if (!Array.isArray(value))
    throw fileConfigError(
      file,
      'chat_template',
      `must be a string or a list of { "name", "template" }, got ${formatValue(value)}`,
    );
  value.forEach((entry: unknown, i) => {
    const key = `chat_template[${i}]`;
    if (!isPlainObject(entry))
      throw fileConfigError(
        file,
        key,
        `must be a { "name", "template" } object, got ${formatValue(entry)}`,
      );
    const { name, template } = entry;
    if (typeof name !== 'string' || name.length === 0)
      throw fileConfigError(
        file,
        `${key}.name`,
        `must be a non-empty string, got ${formatValue(name)}`,
      );
    if (typeof template !== 'string')
      throw fileConfigError(
        file,
        `${key}.template`,
        `must be a string, got ${formatValue(template)}`,
      );
    if (templates.has(name))
      throw fileConfigError(
        file,
        `${key}.name`,
        `names the template ${JSON.stringify(name)} a second time`,
      );
    templates.set(name, { file, source: template, key: `${key}.template` });
  });
  return templates;
}

function readSpecialTokens(config: Record<string, unknown>, file: string): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const value = config[key];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') tokens[key] = value;
    else if (isPlainObject(value) && typeof value['content'] === 'string')
      tokens[key] = value['content'];
    else
      throw fileConfigError(
        file,
        key,
        `must be a string, null or { "content": string }, got ${formatValue(value)}`,
      );
  }
  return tokens;
}

function createChatTemplate(
  name: string,
  text: TemplateText,
  specialTokens: Readonly<Record<string, string>>,
): ChatTemplate {
  const label = `chat template ${JSON.stringify(name)}`;
  let template: Template;
  try {
    template = new Template(text.source);
  } catch (error) {
    throw fileConfigError(
      text.file,
      text.key,
      `the ${label} does not parse (${(error as Error).message})`,
      error,
    );
  }
  // Rebinds raise_exception, which the engine defines to throw a plain Error, to a function of
  // ours, so that a template refusing a conversation is told apart from the engine failing.
  const prelude = parse(
    tokenize(`{% set raise_exception = ${RAISE} %}`, { lstrip_blocks: true, trim_blocks: true }),
  );
  template.parsed.body.unshift(...prelude.body);
  const raise = (message: unknown) => {
    throw new TemplateRaise(String(message));
  };
  const frozenTokens = Object.freeze({ ...specialTokens });

  return {
    file: text.file,
    name,
    source: text.source,
    specialTokens: frozenTokens,
    render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
      checkMessages(messages);
      const variables = renderVariables(options);
      try {
        return template.render({
          ...frozenTokens,
          documents: null,
          ...variables,
          messages,
          [RAISE]: raise,
        });
      } catch (error) {
        if (error instanceof TemplateRaise)
          throw new InvalidArgumentError(
            `ChatTemplate.render: the ${label} of ${text.file} refused the conversation: ${error.message}`,
            {
              source: SOURCE,
              details: { argument: 'messages', file: text.file, template: name },
              cause: error,
            },
          );
        throw fileConfigError(
          text.file,
          text.key,
          `the ${label} failed to render (${(error as Error).message})`,
          error,
        );
      }
    },
  };
}

function invalid(argument: string, problem: string): InvalidArgumentError {
  return new InvalidArgumentError(`ChatTemplate.render: ${argument} ${problem}`, {
    source: SOURCE,
    details: { argument },
  });
}

function checkMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages))
    throw invalid(
      'messages',
      `must be an array of { role, content } objects, got ${describe(messages)}`,
    );
  if (messages.length === 0) throw invalid('messages', 'must hold at least one message');
  messages.forEach((message: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isPlainObject(message))
      throw invalid(at, `must be a { role, content } object, got ${describe(message)}`);
    for (const field of ['role', 'content'] as const)
      if (typeof message[field] !== 'string')
        throw invalid(`${at}.${field}`, `must be a string, got ${describe(message[field])}`);
    checkJsonLike(message, at);
  });
}

/** The template variables of the options: `add_generation_prompt`, `tools` and the extras. */
function renderVariables(options: unknown): Record<string, unknown> {
  if (!isPlainObject(options))
    throw invalid('options', `must be an object, got ${describe(options)}`);
  const { addGenerationPrompt = false, tools = null, ...extra } = options;
  if (typeof addGenerationPrompt !== 'boolean')
    throw invalid(
      'options.addGenerationPrompt',
      `must be a boolean, got ${describe(addGenerationPrompt)}`,
    );
  if (tools !== null && !Array.isArray(tools))
    throw invalid('options.tools', `must be an array of tool schemas, got ${describe(tools)}`);
  checkJsonLike(tools, 'options.tools');
  for (const [key, value] of Object.entries(extra)) {
    if (RESERVED.has(key))
      throw invalid(
        `options.${key}`,
        key === 'add_generation_prompt'
          ? 'is set by options.addGenerationPrompt'
          : `names a variable that the template engine or render itself sets`,
      );
    checkJsonLike(value, `options.${key}`);
  }
  return { ...extra, add_generation_prompt: addGenerationPrompt, tools };
}

/**
 * Checks that `value` is what the Jinja engine takes as data: strings, numbers, booleans, null,
 * arrays and plain objects, without cycles (the engine would recurse forever).
 */
function checkJsonLike(value: unknown, at: string, seen = new Set<object>()): void {
  if (value === null || value === undefined) return;
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return;
  if (type !== 'object') throw invalid(at, `must be JSON-like data, got ${describe(value)}`);
  const object = value as object;
  if (seen.has(object)) throw invalid(at, 'refers back to itself');
  const proto = Object.getPrototypeOf(object) as unknown;
  if (!Array.isArray(object) && proto !== Object.prototype && proto !== null)
    throw invalid(at, `must be JSON-like data, got ${describe(value)}`);
  seen.add(object);
  const entries: [string, unknown][] = Array.isArray(object)
    ? object.map((item: unknown, i) => [`[${i}]`, item])
    : Object.entries(object).map(([key, item]) => [`.${key}`, item]);
  for (const [step, item] of entries) checkJsonLike(item, `${at}${step}`, seen);
  seen.delete(object);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'object': {
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
        ?.constructor?.name;
      return name && name !== 'Object' ? `a ${name}` : 'an object';
    }
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'string':
      return `the string ${JSON.stringify(value)}`;
    default:
      return `${typeof value} ${formatValue(value)}`;
  }
}
