import { describe, expect, it } from 'vitest';
import { maskImsi, maskMsisdn, maskSubscriberFields } from './mask.js';

describe('masking', () => {
  it('ok/keeps the network and the last digits only', () => {
    expect(maskImsi('450080000000018')).toBe('45008********18');
    expect(maskMsisdn('+821012345678')).toBe('+82********78');
    expect(maskSubscriberFields({ imsi: '450080000000018', msisdn: '+821012345678', imei: '35693803564380', x: 1 })).toEqual({
      imsi: '45008********18',
      msisdn: '+82********78',
      imei: '35693803******',
      x: 1,
    });
  });
  it('fail/short values are masked whole, never shown', () => {
    expect(maskImsi('12345')).toBe('*****');
    expect(maskMsisdn('+1234')).toBe('+****');
  });
});
