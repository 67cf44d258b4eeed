// "Run with parameters": a run by hand of a shell job with environment variables and
// arguments, or of an HTTP job with another body. The server's refusal shows on the field it
// names and the modal stays open.

import { useState } from 'react';
import { Alert, Form, Input, Modal, Typography } from 'antd';
import { api } from '../api';
import { ApiError } from '../api/client';
import type { Job } from '../api/types';
import { errorText } from './common';
import { KeyValueList, ValueList } from './KeyValueList';
import { useT } from '../state/prefs';
import { formToParams, paramsErrorAt, paramsForm, type ParamsForm } from '../util/runParams';

/** The fields `job`'s kind takes: variables and arguments, or a body. */
function ParamsFields({ job }: { job: Job }) {
  const t = useT();
  const action = job.action;
  if (action.kind === 'http') {
    return (
      <Form.Item name="body" label={t('action.body')} extra={t('params.bodyHelp')}>
        <Input.TextArea autoSize={{ minRows: 4, maxRows: 16 }} spellCheck={false} style={{ fontFamily: 'monospace' }} data-testid="params-body" />
      </Form.Item>
    );
  }
  if (action.kind !== 'shell') return <Typography.Paragraph>{t('params.notTaken')}</Typography.Paragraph>;
  return (
    <>
      <Form.Item label={t('action.command')}>
        <Typography.Text code style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{action.command}</Typography.Text>
      </Form.Item>
      <Form.Item name="env" label={t('action.env')} extra={t('params.envHelp')}>
        <KeyValueList name={['env']} keyLabel={t('action.envName')} valueLabel={t('action.envValue')} testId="params-env" />
      </Form.Item>
      <Form.Item name="args" label={t('params.args')} extra={t('params.argsHelp')}>
        <ValueList name={['args']} placeholder={(i) => `$${i + 1}`} testId="params-args" />
      </Form.Item>
    </>
  );
}

/** Runs `job` with the parameters entered; `onStarted` gets the new run's id. */
export function RunParamsModal({ job, open, onClose, onStarted }: { job: Job; open: boolean; onClose: () => void; onStarted: (runId: number) => void }) {
  const t = useT();
  const [form] = Form.useForm<ParamsForm>();
  const [busy, setBusy] = useState(false);
  // A refusal no field is named for (too large, too many runs, the server unreachable).
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      onStarted(await api.runJob(job.id ?? '', formToParams(values, job.action)));
    } catch (e) {
      const at = e instanceof ApiError ? paramsErrorAt(e.field, e.message, job.action.kind) : null;
      if (at) form.setFields([{ name: at.name, errors: [at.message] }]);
      else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t('params.title', { name: job.name })}
      onCancel={onClose}
      onOk={submit}
      okText={t('jobs.runNow')}
      okButtonProps={{ 'data-testid': 'params-submit' }}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      width={640}
      destroyOnHidden
      afterClose={() => setError(null)}
      data-testid="run-params-modal"
    >
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} data-testid="params-error" />}
      <Form
        form={form}
        layout="vertical"
        initialValues={paramsForm(job.action)}
        preserve={false}
        // A field's refusal goes once the field is changed.
        onValuesChange={(changed: Partial<ParamsForm>) => form.setFields((Object.keys(changed) as (keyof ParamsForm)[]).map((name) => ({ name, errors: [] })))}
      >
        <ParamsFields job={job} />
      </Form>
    </Modal>
  );
}
