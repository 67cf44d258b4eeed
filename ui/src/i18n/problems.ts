// The server's messages in the UI's language. The server sends each message in English with,
// when its catalog knows the message, a stable code and parameters (`Problem`); a language
// other than English says the code's template here, and falls back to the English otherwise.

import type { Problem } from '../api/types';
import type { Lang } from '.';

type Templates = Record<Problem['code'], string>;

const zh: Templates = {
  cron_empty: '表达式为空',
  cron_field_count:
    '应为 5 个字段（分 时 日 月 周），带秒为 6 个，带年为 7 个，实际为 {count} 个',
  cron_shorthand: '未知的简写 “{text}”（可用 @yearly、@annually、@monthly、@weekly、@daily、@midnight 或 @hourly）',
  cron_never: '“{expression}” 永远不会触发：表达式中没有哪个月份有它要求的日期',
  cron_empty_value: '{part}：值为空（是否有两个逗号或末尾多了逗号？）',
  cron_not_a_number: '{part}：“{text}” 不是数字',
  cron_not_a_month: '{part}：“{text}” 既不是数字也不是月份名（jan-dec）',
  cron_not_a_day: '{part}：“{text}” 既不是数字也不是星期名（sun-sat）',
  cron_out_of_range: '{part}：{value} 超出范围 {min}-{max}',
  cron_bad_step: '{part}：步长 “{text}” 不是数字',
  cron_zero_step: '{part}：步长至少为 1',
  cron_backwards: '{part}：范围 {range} 前大后小（请先写较小的值）',
  cron_nth: '{part}：“#{text}” 必须是 1-5（当月第几周）',
  unknown_time_zone: '未知的时区 “{zone}”：请用 IANA 时区名，如 “Asia/Shanghai” 或 “UTC”',
  empty: '不能为空',
  at_least_one: '至少为 1',
  unknown_field: '未知字段 `{name}`',
  missing_field: '缺少字段 `{name}`',
  invalid_type: '类型错误：应为 {expected}，实际为 {found}',
  malformed_json: 'JSON 格式错误：{detail}',
  empty_body: '请求体为空；请发送 JSON 文档',
  too_large: '请求体过大',
  no_job: '没有 ID 为 “{id}” 的任务',
  no_run: '没有 ID 为 {id} 的运行',
  duplicate_job: 'ID 为 “{id}” 的任务已存在',
  max_instances_active: '任务 “{id}” 的运行数已达上限',
  exited: '退出状态码 {status}',
  killed_by_signal: '被信号 {signal} 终止',
  timed_out: '运行 {seconds} 秒后超时',
  cancelled: '已取消',
  shut_down: '调度器在其结束前关闭',
  skipped: '已有 {active} 个运行在进行（最大实例数 {max}）',
  unexpected_status: '状态码 {status} 不在预期的 {low}-{high} 之内',
  bad_variable_name: '“{name}” 不是变量名：不能为空，且不能含有 “=” 或 NUL',
  shell_only: '只有命令任务接受{what}',
  http_only: '只有 HTTP 任务接受请求体',
  has_nul: '不能含有 NUL 字符',
  database_not_absolute: '请填写 SQLite 文件的完整路径（如 /home/you/kairos/jobs.db），或 postgres:// 地址',
  database_scheme: '数据库地址须以 postgres:// 或 postgresql:// 开头',
  database_is_folder: '{path} 是文件夹；请指定其中的文件，如 {example}',
  database_open_failed: '无法打开 {location}：{detail}',
  database_fell_back: '无法打开 {location}：{detail}；在能打开之前，Kairos 使用默认数据库',
  database_from_environment: '已设置 KAIROS_DB，由它决定数据库；取消该变量后才能在此选择',
  database_from_command_line: '此进程使用启动时指定的数据库；要换用其他数据库，请以 `kairos serve --db 位置` 启动',
};

/** Parameter values that are words, by parameter: cron field names (`part`) and what a job takes. */
const zhWords: Record<string, Record<string, string>> = {
  part: {
    second: '秒',
    minute: '分',
    hour: '时',
    'day-of-month': '日',
    month: '月',
    'day-of-week': '周',
    year: '年',
  },
  what: { 'environment variables': '环境变量', arguments: '参数' },
};

const templates: Partial<Record<Lang, { text: Templates; words: Record<string, Record<string, string>> }>> = {
  zh: { text: zh, words: zhWords },
};

/** `message` in `lang`: the template of `problem`'s code filled in, or the server's English. */
export function sayProblem(lang: Lang, problem: Problem | null | undefined, message: string): string {
  const own = templates[lang];
  if (!problem || !own) return message;
  // A code or a parameter newer than this UI has no place here: the server's English says it.
  const template = Object.hasOwn(own.text, problem.code) ? own.text[problem.code] : undefined;
  const params = problem.params ?? {};
  const names = [...(template ?? '').matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  if (template === undefined || names.some((name) => !Object.hasOwn(params, name))) return message;
  return template.replace(/\{(\w+)\}/g, (_, name: string) => own.words[name]?.[params[name]] ?? params[name]);
}

/** Why `run` ended as it did, in `lang` (undefined when it has no error). */
export function runError(lang: Lang, run: { error?: string | null; problem?: Problem | null }): string | undefined {
  return run.error ? sayProblem(lang, run.problem, run.error) : undefined;
}

/** The UI's language as the page states it (`<html lang>`, set by the preferences). */
export function pageLang(): Lang {
  return typeof document !== 'undefined' && document.documentElement.lang.startsWith('zh') ? 'zh' : 'en';
}
