// A list of name/value pairs in a form: environment variables, HTTP headers.

import { Button, Flex, Form, Input } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { useT } from '../state/prefs';

/** A Form.List of `{key, value}` rows under `name`; `secret` values are typed like passwords. */
export function KeyValueList({ name, keyLabel, valueLabel, secret }: { name: (string | number)[]; keyLabel: string; valueLabel: string; secret?: boolean }) {
  const t = useT();
  return (
    <Form.List name={name}>
      {(fields, { add, remove }) => (
        <Flex vertical gap={8}>
          {fields.map((field) => (
            <Flex key={field.key} gap={8} align="start">
              <Form.Item name={[field.name, 'key']} noStyle>
                <Input placeholder={keyLabel} style={{ width: '40%' }} spellCheck={false} />
              </Form.Item>
              <Form.Item name={[field.name, 'value']} noStyle>
                {secret ? <Input.Password placeholder={valueLabel} autoComplete="new-password" /> : <Input placeholder={valueLabel} spellCheck={false} />}
              </Form.Item>
              <Button icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('common.remove')} />
            </Flex>
          ))}
          <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ key: '', value: '' })} style={{ alignSelf: 'start' }}>
            {t('common.add')}
          </Button>
        </Flex>
      )}
    </Form.List>
  );
}
