import type { Alert } from '../alerts.js';

/** Where alerts go besides the store. `isNew` tells a raise from a fold into an existing alert. */
export interface AlertSink {
  deliver(alert: Alert, isNew: boolean, severityRaised: boolean): void;
  close?(): Promise<void>;
}
