import { migration as platform } from './0001_platform.ts';
import { migration as identity } from './0002_identity.ts';
import { migration as money } from './0003_money.ts';
import { migration as contentSecurity } from './0004_content_security.ts';
import { migration as logs } from './0005_logs.ts';
import { migration as identityVerification } from './0006_identity.ts';
import { migration as moneyOperations } from './0007_money.ts';
import { migration as securityControls } from './0008_security_controls.ts';
import { migration as moneyRanges } from './0009_money_ranges.ts';
import { migration as transferEngine } from './0010_transfer_engine.ts';
import { migration as activityIsolation } from './0011_activity_isolation.ts';
import { migration as tenantIndicators } from './0012_tenant_indicators.ts';
import { migration as securityContext } from './0013_security_context.ts';
import { migration as detection } from './0014_detection.ts';
import { migration as alertDeliveries } from './0015_alert_deliveries.ts';
import { migration as detectionScreen } from './0016_detection_screen.ts';
import { migration as consents } from './0017_consents.ts';
import { migration as transferVelocity } from './0018_transfer_velocity.ts';
import { migration as legalHolds } from './0019_legal_holds.ts';
import { migration as complianceReports } from './0020_compliance_reports.ts';
import { migration as gdpr } from './0021_gdpr.ts';
import { migration as retention } from './0022_retention.ts';

/** Every migration in order. Names are permanent once released: they are recorded in schema_migrations. */
export const migrations = {
  '0001_platform': platform,
  '0002_identity': identity,
  '0003_money': money,
  '0004_content_security': contentSecurity,
  '0005_logs': logs,
  '0006_identity': identityVerification,
  '0007_money': moneyOperations,
  '0008_security_controls': securityControls,
  '0009_money_ranges': moneyRanges,
  '0010_transfer_engine': transferEngine,
  '0011_activity_isolation': activityIsolation,
  '0012_tenant_indicators': tenantIndicators,
  '0013_security_context': securityContext,
  '0014_detection': detection,
  '0015_alert_deliveries': alertDeliveries,
  '0016_detection_screen': detectionScreen,
  '0017_consents': consents,
  '0018_transfer_velocity': transferVelocity,
  '0019_legal_holds': legalHolds,
  '0020_compliance_reports': complianceReports,
  '0021_gdpr': gdpr,
  '0022_retention': retention,
};
