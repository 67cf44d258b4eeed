// The job editor's chain: which jobs a run's end starts, and on which ends.

import { useEffect, useState } from 'react';
import { Button, Flex, Form, Select, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { api } from '../api';
import type { FollowOn, Job } from '../api/types';
import { useT } from '../state/prefs';

const ENDS: FollowOn[] = ['succeeded', 'failed', 'completed'];

/** Jobs whose name or id matches what is typed, as select options (never `self`; only those `accept` takes). */
export function useJobOptions(self: string | undefined, accept: (job: Job) => boolean = () => true) {
  const [search, setSearch] = useState('');
  const [options, setOptions] = useState<{ value: string; label: string }[]>([]);
  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(() => {
      api.listJobs({ q: search || undefined, limit: 50 }, abort.signal).then(
        (page) =>
          setOptions(page.items.flatMap((j) => (j.id && j.id !== self && accept(j) ? [{ value: j.id, label: `${j.name} (${j.id})` }] : []))),
        () => undefined,
      );
    }, 200);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
    // `accept` is a filter fixed by the caller; a new function each render must not refetch.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search, self]);
  return { options, onSearch: setSearch };
}

/** Form.List `then`: rows of (job to start, on which end). */
export function ChainList({ self }: { self?: string }) {
  const t = useT();
  const jobs = useJobOptions(self);
  return (
    <Form.List name="then">
      {(fields, { add, remove }) => (
        <Flex vertical gap={8} data-testid="chain">
          {fields.length === 0 && <Typography.Text type="secondary">{t('chain.none')}</Typography.Text>}
          {fields.map((field) => (
            <Flex key={field.key} gap={8} align="start">
              <Typography.Text style={{ lineHeight: '32px', whiteSpace: 'nowrap' }}>{t('chain.start')}</Typography.Text>
              <Form.Item name={[field.name, 'job']} rules={[{ required: true, message: t('chain.pickJob') }]} style={{ flex: 1, marginBottom: 0 }}>
                <Select
                  showSearch
                  filterOption={false}
                  onSearch={jobs.onSearch}
                  options={jobs.options}
                  placeholder={t('chain.jobPlaceholder')}
                  data-testid={`chain-job-${field.name}`}
                />
              </Form.Item>
              <Form.Item name={[field.name, 'on']} style={{ width: 200, marginBottom: 0 }}>
                <Select options={ENDS.map((on) => ({ value: on, label: t(`chain.on.${on}`) }))} data-testid={`chain-on-${field.name}`} />
              </Form.Item>
              <Button icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('common.remove')} />
            </Flex>
          ))}
          <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ on: 'succeeded' })} style={{ alignSelf: 'start' }} data-testid="chain-add">
            {t('chain.add')}
          </Button>
        </Flex>
      )}
    </Form.List>
  );
}
