// Editable lists in a form: name/value pairs (environment variables, HTTP headers) and plain
// values in order (a command's arguments).

import type { ReactNode } from 'react';
import { Button, Flex, Form, Input } from 'antd';
import type { FormListFieldData } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { useT } from '../state/prefs';

/** A Form.List under `name`: `row`'s inputs for each item with a remove button, and an add
 * button that appends `blank`. */
function RowList({ name, blank, row, testId }: { name: (string | number)[]; blank: unknown; row: (field: FormListFieldData, index: number) => ReactNode; testId?: string }) {
  const t = useT();
  return (
    <Form.List name={name}>
      {(fields, { add, remove }) => (
        <Flex vertical gap={8} data-testid={testId}>
          {fields.map((field, index) => (
            <Flex key={field.key} gap={8} align="start">
              {row(field, index)}
              <Button icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('common.remove')} />
            </Flex>
          ))}
          <Button type="dashed" icon={<PlusOutlined />} onClick={() => add(blank)} style={{ alignSelf: 'start' }}>
            {t('common.add')}
          </Button>
        </Flex>
      )}
    </Form.List>
  );
}

/** A Form.List of `{key, value}` rows under `name`; `secret` values are typed like passwords. */
export function KeyValueList({ name, keyLabel, valueLabel, secret, testId }: { name: (string | number)[]; keyLabel: string; valueLabel: string; secret?: boolean; testId?: string }) {
  return (
    <RowList
      name={name}
      blank={{ key: '', value: '' }}
      testId={testId}
      row={(field) => (
        <>
          <Form.Item name={[field.name, 'key']} noStyle>
            <Input placeholder={keyLabel} style={{ width: '40%' }} spellCheck={false} />
          </Form.Item>
          <Form.Item name={[field.name, 'value']} noStyle>
            {secret ? <Input.Password placeholder={valueLabel} autoComplete="new-password" /> : <Input placeholder={valueLabel} spellCheck={false} />}
          </Form.Item>
        </>
      )}
    />
  );
}

/** A Form.List of strings under `name`, in order; `placeholder` names the value at an index. */
export function ValueList({ name, placeholder, testId }: { name: (string | number)[]; placeholder: (index: number) => string; testId?: string }) {
  return (
    <RowList
      name={name}
      blank=""
      testId={testId}
      row={(field, index) => (
        <Form.Item name={field.name} noStyle>
          <Input placeholder={placeholder(index)} spellCheck={false} />
        </Form.Item>
      )}
    />
  );
}
