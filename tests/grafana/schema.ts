// The types the dashboards are checked against: @grafana/schema's `Dashboard` (the schema Grafana
// publishes for dashboard JSON, schemaVersion 39+), narrowed only where the generic schema leaves a
// field to a plugin and Grafana documents it elsewhere.
import type { AnnotationQuery, Dashboard } from '@grafana/schema';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** `T` as it reads from JSON: a TypeScript string enum (`BigValueColorMode`, `ThresholdsMode`, ...)
 * becomes the union of its string values, which is what the JSON holds; everything else as is. */
export type Jsonify<T> = T extends string
  ? `${T}`
  : T extends (infer E)[]
    ? Jsonify<E>[]
    : T extends object
      ? { [K in keyof T]: Jsonify<T[K]> }
      : T;

/** A Prometheus annotation query: the data source plugin reads these beside the generic fields
 * (Grafana docs, "Prometheus data source", "Annotations"). */
export interface PrometheusAnnotation extends AnnotationQuery {
  expr?: string;
  step?: string;
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
}

/** A dashboard as Barometer ships it: Grafana's `Dashboard`, with Prometheus annotations. */
export type BarometerDashboard = Jsonify<
  Omit<Dashboard, 'annotations'> & { annotations?: { list?: PrometheusAnnotation[] } }
>;

/** Panel options by panel type; a panel of another type is checked against `Dashboard` only. */
export interface PanelOptions {
  stat: Jsonify<Partial<StatOptions>>;
  timeseries: Jsonify<Partial<TimeSeriesOptions>>;
}

/** `fieldConfig.defaults.custom` by panel type. */
export interface PanelCustomFieldConfig {
  timeseries: Jsonify<Partial<TimeSeriesFieldConfig>>;
}
