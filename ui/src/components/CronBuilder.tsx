// The cron expression editor: presets, the raw expression, its description, and a visual
// builder (one row per field) kept in two-way sync with the text.

import { useMemo } from 'react';
import { Alert, Flex, Input, InputNumber, Segmented, Select, Tag, Typography, theme } from 'antd';
import { BulbOutlined, ThunderboltOutlined } from '@ant-design/icons';
import {
  FIELD_BOUNDS,
  FIELD_NAMES,
  PRESETS,
  buildCron,
  defaultSpec,
  matchPreset,
  parseCron,
  type CronFields,
  type FieldMode,
  type FieldName,
  type FieldSpec,
} from '../cron/builder';
import { describeCron } from '../cron/describe';
import type { Lang } from '../i18n';
import { usePrefs } from '../state/prefs';

interface Props {
  id?: string;
  value?: string;
  onChange?: (value: string) => void;
  status?: '' | 'error' | 'warning';
}

/** Short localized names: Sun…Sat, Jan…Dec. */
function valueLabels(field: FieldName, lang: Lang): (v: number) => string {
  const locale = lang === 'zh' ? 'zh-CN' : 'en';
  if (field === 'dow') {
    const fmt = new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' });
    // 2023-01-01 was a Sunday.
    return (v) => fmt.format(new Date(Date.UTC(2023, 0, 1 + (v % 7))));
  }
  if (field === 'month') {
    const fmt = new Intl.DateTimeFormat(locale, { month: 'short', timeZone: 'UTC' });
    return (v) => fmt.format(new Date(Date.UTC(2023, v - 1, 1)));
  }
  if (field === 'minute' || field === 'hour') return (v) => String(v).padStart(2, '0');
  return (v) => String(v);
}

function FieldRow({
  field,
  spec,
  onChange,
}: {
  field: FieldName;
  spec: FieldSpec;
  onChange: (spec: FieldSpec) => void;
}) {
  const { t, lang } = usePrefs();
  const [lo, hiBound] = FIELD_BOUNDS[field];
  const hi = field === 'dow' ? 6 : hiBound;
  const label = valueLabels(field, lang);
  const options = useMemo(() => {
    const out = [];
    for (let v = lo; v <= hi; v += 1) out.push({ value: v, label: label(v) });
    return out;
  }, [lo, hi, label]);
  const modes: { value: FieldMode; label: string }[] = [
    { value: 'every', label: t('cron.mode.every') },
    { value: 'values', label: t('cron.mode.values') },
    { value: 'range', label: t('cron.mode.range') },
    { value: 'step', label: t('cron.mode.step') },
  ];
  const small = { width: 92 };
  return (
    <Flex align="center" gap={12} wrap="wrap" data-cron-field={field} style={{ minHeight: 40 }}>
      <Typography.Text strong style={{ width: 96, flex: 'none' }}>
        {t(`cron.field.${field}`)}
      </Typography.Text>
      <Segmented
        size="small"
        options={modes}
        value={spec.mode}
        onChange={(mode) => onChange(defaultSpec(field, mode as FieldMode, spec))}
      />
      {spec.mode === 'every' && <Typography.Text type="secondary">{t(`cron.every.${field}`)}</Typography.Text>}
      {spec.mode === 'values' && (
        <Select
          mode="multiple"
          size="small"
          style={{ minWidth: 200, flex: 1, maxWidth: 420 }}
          options={options}
          value={spec.values.map((v) => (field === 'dow' && v === 7 ? 0 : v))}
          maxTagCount="responsive"
          placeholder={t('cron.pick')}
          aria-label={t(`cron.field.${field}`)}
          onChange={(values: number[]) => onChange({ mode: 'values', values: [...values].sort((a, b) => a - b) })}
        />
      )}
      {spec.mode === 'range' && (
        <Flex align="center" gap={6}>
          <Select size="small" style={small} options={options} value={spec.from}
            onChange={(from: number) => onChange({ ...spec, from, to: Math.max(from, spec.to) })} />
          <Typography.Text type="secondary">{t('cron.to')}</Typography.Text>
          <Select size="small" style={small} options={options.filter((o) => o.value >= spec.from)} value={spec.to}
            onChange={(to: number) => onChange({ ...spec, to })} />
        </Flex>
      )}
      {spec.mode === 'step' && (
        <Flex align="center" gap={6} wrap="wrap">
          <Typography.Text type="secondary">{t('cron.stepEvery')}</Typography.Text>
          <InputNumber size="small" min={1} max={hiBound} value={spec.step} style={{ width: 72 }}
            onChange={(step) => onChange({ ...spec, step: Math.max(1, Number(step) || 1) })} />
          <Typography.Text type="secondary">{t('cron.stepFrom')}</Typography.Text>
          <Select
            size="small"
            style={small}
            value={spec.start ?? -1}
            options={[{ value: -1, label: t('cron.stepFirst') }, ...options]}
            onChange={(start: number) =>
              onChange({ ...spec, start: start < 0 ? null : start, end: start < 0 ? null : spec.end })
            }
          />
          {spec.start !== null && (
            <>
              <Typography.Text type="secondary">{t('cron.to')}</Typography.Text>
              <Select
                size="small"
                style={small}
                value={spec.end ?? -1}
                options={[
                  { value: -1, label: t('cron.stepEnd') },
                  ...options.filter((o) => o.value > (spec.start ?? lo)),
                ]}
                onChange={(end: number) => onChange({ ...spec, end: end < 0 ? null : end })}
              />
            </>
          )}
        </Flex>
      )}
    </Flex>
  );
}

export function CronBuilder({ id, value = '', onChange, status }: Props) {
  const { t, lang } = usePrefs();
  const { token } = theme.useToken();
  const parsed = useMemo(() => parseCron(value), [value]);
  const description = useMemo(() => describeCron(value, lang), [value, lang]);
  const preset = useMemo(() => matchPreset(value), [value]);

  const setFields = (fields: CronFields) => onChange?.(buildCron(fields));

  return (
    <Flex vertical gap={12}>
      <Flex gap={6} wrap="wrap" align="center">
        <ThunderboltOutlined style={{ color: token.colorTextSecondary }} />
        {PRESETS.map((p) => (
          <Tag.CheckableTag
            key={p.key}
            checked={preset?.key === p.key}
            onChange={() => onChange?.(p.expression)}
            data-preset={p.key}
            style={{ border: `1px solid ${token.colorBorderSecondary}`, marginInlineEnd: 0 }}
          >
            {t(`preset.${p.key}`)}
          </Tag.CheckableTag>
        ))}
      </Flex>
      <Input
        id={id}
        value={value}
        status={status}
        onChange={(e) => onChange?.(e.target.value)}
        placeholder="0 9 * * 1-5"
        spellCheck={false}
        autoComplete="off"
        data-testid="cron-expression"
        style={{ fontFamily: token.fontFamilyCode, fontSize: 16 }}
        addonBefore={<span style={{ fontFamily: token.fontFamilyCode, fontSize: 12 }}>{t('cron.fieldsHint')}</span>}
      />
      <Flex gap={8} align="baseline" data-testid="cron-description" style={{ minHeight: 22 }}>
        <BulbOutlined style={{ color: description ? token.colorPrimary : token.colorTextQuaternary }} />
        <Typography.Text strong={!!description} type={description ? undefined : 'secondary'}>
          {description ?? t('cron.noDescription')}
        </Typography.Text>
      </Flex>
      {parsed.ok ? (
        <Flex
          vertical
          gap={4}
          data-testid="cron-builder"
          style={{
            padding: '8px 12px',
            borderRadius: token.borderRadiusLG,
            background: token.colorFillQuaternary,
          }}
        >
          {FIELD_NAMES.map((field) => (
            <FieldRow
              key={field}
              field={field}
              spec={parsed.fields[field]}
              onChange={(spec) => setFields({ ...parsed.fields, [field]: spec })}
            />
          ))}
        </Flex>
      ) : parsed.invalid ? (
        value.trim() ? (
          <Typography.Text type="secondary" data-testid="cron-invalid" style={{ fontSize: 13 }}>
            {t('cron.fixToBuild')}
          </Typography.Text>
        ) : null
      ) : (
        <Alert
          type="info"
          showIcon
          data-testid="cron-advanced"
          message={t('cron.advanced')}
          description={t('cron.advancedHelp', { reason: parsed.reason })}
        />
      )}
    </Flex>
  );
}
