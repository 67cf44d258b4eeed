// GENERATED FILE, do not edit: `npm run gen:api` writes it from the server's OpenAPI
// document (`kairos openapi`) with openapi-typescript; `npm run check:api` checks it is current.
// Hand-written names for these types are in types.ts.

export interface paths {
    "/api/channels": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every alert channel, its secrets masked. */
        get: operations["list_channels"];
        put?: never;
        /** Adds an alert channel; an absent or empty id gets a generated one. */
        post: operations["create_channel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/channels/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Replaces an alert channel; masked secrets sent back keep their stored values. */
        put: operations["update_channel"];
        post?: never;
        /** Removes an alert channel; rules naming it send nothing. */
        delete: operations["delete_channel"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/channels/{id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sends a test message on a channel now and answers how it went (also recorded). */
        post: operations["test_channel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/cron/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The next fire times of a cron expression, computed by the engine. */
        post: operations["cron_preview"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/database": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The database in use and the one chosen for the next start. */
        get: operations["get_database"];
        /**
         * Chooses the database for the next start, after opening it (creating a SQLite file, or
         *     migrating a PostgreSQL database) to make sure it works.
         */
        put: operations["put_database"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/database/restart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Restarts the app on the database chosen for the next start, once this answer is sent;
         *     running jobs get time to finish first, as on quit.
         */
        post: operations["restart_on_database"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Alert delivery attempts, newest first. */
        get: operations["list_deliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A live stream of scheduler events: SSE event name = the event `type`, data = its JSON
         *     (`{"type","at",…}`). Browsers may pass the token as `?token=` here (EventSource cannot
         *     set headers).
         */
        get: operations["events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every job, for [`import`](import_jobs) elsewhere. */
        get: operations["export_jobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/import": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Adds every job of an export, all or none. */
        post: operations["import_jobs"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists jobs, filtered, sorted and paged by the store. */
        get: operations["list_jobs"];
        put?: never;
        /** Adds a job; an absent or empty id gets a generated one. */
        post: operations["create_job"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One job. */
        get: operations["get_job"];
        /** Replaces a job's definition; the id in the path wins over one in the body. */
        put: operations["update_job"];
        post?: never;
        /** Removes a job (its run history stays until retention drops it). */
        delete: operations["delete_job"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pauses a job: it keeps its schedule but does not fire. */
        post: operations["pause_job"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resumes a job from now, or with `catch_up=true` from its old next fire time (missed fire
         *     times then go through the misfire policy).
         */
        post: operations["resume_job"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/jobs/{id}/run": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Runs a job now, outside its schedule, with parameters when given. */
        post: operations["run_job"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/metrics/system": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** System-monitor samples, downsampled for charts. */
        get: operations["system_metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/nodes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The processes (nodes) sharing this store: `kairos serve` instances, desktop apps, and
         *     programs using the library, each with its heartbeat, state and running runs.
         */
        get: operations["list_nodes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Run history, newest first. */
        get: operations["list_runs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/runs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One run, with its stdout and stderr: for a shell command running on this process, the
         *     output so far.
         */
        get: operations["get_run"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/runs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancels a submitted or running run, wherever it runs: a shell command's process group
         *     gets SIGTERM, then SIGKILL, and the run ends `cancelled`.
         */
        post: operations["cancel_run"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/runs/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Runs a workflow step again, and the steps after it, in its workflow run (which must have
         *     ended); the workflow run goes on from there.
         */
        post: operations["retry_step"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/scheduler": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Whether the scheduler runs, is paused, how many jobs and active runs it has, its next fire
         *     time, and how late runs started.
         */
        get: operations["scheduler_status"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/scheduler/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Stops firing every job until resumed. */
        post: operations["pause_scheduler"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/scheduler/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Fires jobs again; fire times that fell due meanwhile go through the misfire policy. */
        post: operations["resume_scheduler"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/settings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The scheduler's settings: job defaults and executor pools. */
        get: operations["get_settings"];
        /** Validates, saves and applies new settings. */
        put: operations["put_settings"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/stats/durations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Run duration percentiles per job. */
        get: operations["duration_stats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/stats/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * How many jobs there are: all, paused, monitoring and failing (newest run failed, timed out
         *     or abandoned).
         */
        get: operations["job_counts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/stats/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Run counts per time bucket and end state. */
        get: operations["run_stats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tags": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The tags jobs carry, each with how many jobs have it and how many of those are paused. */
        get: operations["list_tags"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tags/{tag}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pauses every job with the tag (case-insensitively). */
        post: operations["pause_tag"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/tags/{tag}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resumes every paused job with the tag, from now or (`catch_up=true`) from their old next
         *     fire times.
         */
        post: operations["resume_tag"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/triggers/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The next fire times of any trigger, computed by the engine: the editor's check of a trigger
         *     as it is typed (a bad field is named by its path, e.g. `trigger.seconds`).
         */
        post: operations["trigger_preview"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health: `ok` while the process serves requests, can write to its store and may claim
         *     fires. 507 `disk_full` when the disk holding the database is full, 503 `store_error` when
         *     the store refuses writes otherwise (both as of the last heartbeat), 503 `clock_skew` while
         *     the clock is further from the database's than the settings allow (it then claims no fires,
         *     so another node should).
         */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics: `kairos_jobs`, `kairos_jobs_paused`, `kairos_runs{state}`,
         *     `kairos_active_runs`, `kairos_scheduler_paused`, `kairos_runs_started_total` and the
         *     `kairos_run_start_lateness_seconds` histogram.
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description What a job does. JSON: `{"kind":"shell","command":"backup.sh"}`, `{"kind":"http",
         *     "url":"https://…"}`, `{"kind":"monitor"}`, `{"kind":"function","name":"…"}`,
         *     `{"kind":"workflow","steps":[…],"edges":[…]}`.
         */
        Action: (components["schemas"]["ShellAction"] & {
            /** @enum {string} */
            kind: "shell";
        }) | (components["schemas"]["HttpAction"] & {
            /** @enum {string} */
            kind: "http";
        }) | (components["schemas"]["MonitorAction"] & {
            /** @enum {string} */
            kind: "monitor";
        }) | (components["schemas"]["FunctionAction"] & {
            /** @enum {string} */
            kind: "function";
        }) | (components["schemas"]["WorkflowAction"] & {
            /** @enum {string} */
            kind: "workflow";
        });
        /**
         * @description The kind of an action, as its JSON `kind` names it.
         * @enum {string}
         */
        ActionKind: "shell" | "http" | "monitor" | "function" | "workflow";
        /**
         * @description What a rule lets a channel hear about a job's runs.
         * @enum {string}
         */
        AlertOn: "failed" | "timed_out" | "missed" | "skipped" | "abandoned" | "recovered" | "slow" | "test";
        /** @description Which outcomes of a job's runs a channel hears. */
        AlertRule: {
            /** @description The channel's id. */
            channel: string;
            /**
             * Format: int64
             * @description For `slow`: a run longer than this many seconds.
             */
            longer_than_s?: number | null;
            /** @description The outcomes it hears. */
            on: components["schemas"]["AlertOn"][];
        };
        /** @description The JSON shape of an `and` trigger. */
        AndTrigger: {
            /**
             * Format: int32
             * @description How many rounds of search before concluding the members never agree.
             */
            max_iterations?: number;
            /**
             * Format: int32
             * @description How far apart members' fire times may be and still agree.
             */
            threshold_seconds?: number;
            /** @description The members, at least one. */
            triggers: components["schemas"]["Trigger"][];
        };
        /** @description Run counts per time bucket and state. */
        BucketList: {
            /** @description One row per bucket and state that has runs. */
            buckets: components["schemas"]["RunBucket"][];
        };
        /** @description The JSON shape of a calendar-interval trigger. */
        CalendarIntervalTrigger: {
            /**
             * Format: date-time
             * @description No fire time after this instant.
             */
            end?: string | null;
            /**
             * Format: int32
             * @description How many units between fires (at least 1).
             */
            every: number;
            /**
             * Format: date
             * @description The first day to fire on, in the trigger's zone.
             */
            start_date: string;
            /** @description The wall-clock time of day to fire at. */
            time?: string;
            /**
             * @description The zone the wall clock is read in.
             * @example Europe/London
             */
            timezone?: string;
            /** @description The unit counted. */
            unit: components["schemas"]["CalendarUnit"];
        };
        /**
         * @description The calendar unit a [`CalendarIntervalTrigger`] counts in.
         * @enum {string}
         */
        CalendarUnit: "years" | "months" | "weeks" | "days";
        /** @description A place alerts are sent to. */
        Channel: {
            /** @description Sends nothing while false. */
            enabled?: boolean;
            /** @description Unique identifier; an empty one is generated when the channel is added. */
            id?: string;
            /** @description The language of the messages it sends. */
            language?: components["schemas"]["Language"];
            /** @description Short human name. */
            name: string;
            /** @description Where and how it sends. */
            target: components["schemas"]["Target"];
        };
        /** @description The alert channels. */
        ChannelList: {
            /** @description Every channel, secrets masked. */
            items: components["schemas"]["Channel"][];
        };
        /** @description Heartbeats and leases of the processes (nodes) that share one store. */
        ClusterSettings: {
            /**
             * Format: int32
             * @description Seconds between a node's heartbeats.
             */
            heartbeat_s: number;
            /**
             * Format: int32
             * @description Seconds without a heartbeat after which a node counts as dead and its runs are taken
             *     over; a `kill -9` is noticed within `lease_s + heartbeat_s`.
             */
            lease_s: number;
            /**
             * Format: int32
             * @description Milliseconds a node's clock may differ from the database's before it stops claiming.
             */
            max_skew_ms: number;
        };
        /**
         * @description What to do with several overdue fire times of one job.
         * @enum {string}
         */
        Coalesce: "latest" | "earliest" | "all";
        /**
         * @description A message's stable code; the message is its English template (`Code::template`) filled in.
         * @enum {string}
         */
        Code: "cron_empty" | "cron_field_count" | "cron_shorthand" | "cron_never" | "cron_empty_value" | "cron_not_a_number" | "cron_not_a_month" | "cron_not_a_day" | "cron_out_of_range" | "cron_bad_step" | "cron_zero_step" | "cron_backwards" | "cron_nth" | "unknown_time_zone" | "empty" | "at_least_one" | "unknown_field" | "missing_field" | "invalid_type" | "malformed_json" | "empty_body" | "too_large" | "no_job" | "no_run" | "duplicate_job" | "max_instances_active" | "exited" | "killed_by_signal" | "timed_out" | "cancelled" | "shut_down" | "skipped" | "unexpected_status" | "bad_variable_name" | "shell_only" | "http_only" | "has_nul" | "database_not_absolute" | "database_scheme" | "database_is_folder" | "database_open_failed" | "database_from_environment" | "database_from_command_line" | "database_fell_back";
        /** @description The JSON shape of a cron trigger. */
        CronTrigger: {
            /** Format: date-time */
            end?: string | null;
            expression: string;
            /** Format: date-time */
            start?: string | null;
            /** @example Europe/London */
            timezone?: string;
        };
        /** @description A database to use from the next start on. */
        DatabaseChoice: {
            /**
             * @description The full path of a SQLite file, or a `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` URL;
             *     null or empty for the default file.
             */
            location?: string | null;
        };
        /** @description The database in use, and the one chosen for the next start. */
        DatabaseInfo: {
            /** @description Whether this process may switch databases (the desktop app, unless `KAIROS_DB` is set). */
            changeable: boolean;
            /** @description The default database of this host (a SQLite file). */
            default_location: string;
            /** @description Its kind. */
            kind: components["schemas"]["DatabaseKind"];
            /** @description The database in use: a SQLite file's path, or a PostgreSQL URL with its password masked. */
            location: string;
            /**
             * @description The database chosen for the next start (password masked) when it differs from the one
             *     in use; a restart switches to it.
             */
            next?: string | null;
            /** @description Why the database setting could not be followed at start (the default is in use). */
            problem?: string | null;
            problem_code?: null | components["schemas"]["Problem"];
            /** @description Where it was chosen. */
            source: components["schemas"]["DatabaseSource"];
        };
        /**
         * @description Which kind of store a location names.
         * @enum {string}
         */
        DatabaseKind: "sqlite" | "postgresql";
        /**
         * @description Where the database in use was chosen.
         * @enum {string}
         */
        DatabaseSource: "command_line" | "environment" | "setting" | "default";
        /** @description Fires once, at `at`. */
        DateTrigger: {
            /**
             * Format: date-time
             * @description The instant to fire at.
             */
            at: string;
            /**
             * @description The zone the instant is shown in.
             * @example Europe/London
             */
            timezone?: string;
        };
        /** @description One attempt to deliver an alert. */
        Delivery: {
            /**
             * Format: date-time
             * @description When it was made.
             */
            at: string;
            /**
             * Format: int32
             * @description 1 for the first try.
             */
            attempt: number;
            /** @description The channel's id. */
            channel: string;
            /** @description Why it was not accepted (the service's answer or the connection's error). */
            error?: string | null;
            /**
             * Format: int64
             * @description The attempt's id (given by the store).
             */
            id: number;
            /** @description The job it was about, if any (not for a test). */
            job_id?: string | null;
            /** @description The service accepted it. */
            ok: boolean;
            /** @description What it announced. */
            outcome: components["schemas"]["AlertOn"];
            /**
             * Format: int64
             * @description The run it was about, if any.
             */
            run_id?: number | null;
        };
        /** @description Alert delivery attempts, newest first. */
        DeliveryList: {
            /** @description The attempts. */
            items: components["schemas"]["Delivery"][];
        };
        /** @description Duration percentiles per job. */
        DurationList: {
            /** @description One row per job that has finished runs. */
            items: components["schemas"]["DurationStats"][];
        };
        /** @description Duration percentiles of one job's finished runs, in milliseconds. */
        DurationStats: {
            /**
             * Format: int64
             * @description How many finished runs were measured.
             */
            count: number;
            /** @description The job. */
            job_id: components["schemas"]["String"];
            /**
             * Format: int64
             * @description Longest.
             */
            max_ms: number;
            /**
             * Format: int64
             * @description Median duration.
             */
            p50_ms: number;
            /**
             * Format: int64
             * @description 90th percentile.
             */
            p90_ms: number;
            /**
             * Format: int64
             * @description 99th percentile.
             */
            p99_ms: number;
        };
        /** @description `to` starts after `from` ends as `on` says. */
        Edge: {
            /** @description The step before. */
            from: string;
            /** @description Which ends of `from` let `to` start. */
            on?: components["schemas"]["FollowOn"];
            /** @description The step after. */
            to: string;
        };
        /** @description An event with the time it happened. */
        Envelope: components["schemas"]["Event"] & {
            /**
             * Format: date-time
             * @description When.
             */
            at: string;
            /** @description The node it happened on, when that is another process sharing the store. */
            node?: string | null;
        };
        /** @description The JSON body of every error response. */
        ErrorBody: {
            /** @description The error. */
            error: components["schemas"]["ErrorDetail"];
        };
        /** @description What went wrong, and where. */
        ErrorDetail: {
            /** @description The field, query parameter or JSON path at fault (e.g. `trigger`, `jobs[2].id`), or null. */
            field?: string | null;
            /** @description What is wrong. */
            message: string;
            problem?: null | components["schemas"]["Problem"];
        };
        /** @description Something that happened in the scheduler. JSON: `{"type":"run_failed","job_id":…,…}`. */
        Event: {
            /** @enum {string} */
            type: "scheduler_started";
        } | {
            /** @enum {string} */
            type: "scheduler_shutdown";
        } | {
            /** @enum {string} */
            type: "scheduler_paused";
        } | {
            /** @enum {string} */
            type: "scheduler_resumed";
        } | {
            /**
             * Format: int64
             * @description How far the wall clock moved beyond elapsed time, in milliseconds (negative: back).
             */
            by_ms: number;
            /**
             * @description The machine slept (fires due meanwhile go through the misfire policy); otherwise
             *     the clock was set, and interval jobs moved their next fire time with it.
             */
            suspended: boolean;
            /** @enum {string} */
            type: "clock_jumped";
        } | {
            /** @description The job. */
            job_id: components["schemas"]["String"];
            /** @enum {string} */
            type: "job_added";
        } | {
            /** @description The job. */
            job_id: components["schemas"]["String"];
            /** @enum {string} */
            type: "job_modified";
        } | {
            /** @description The job. */
            job_id: components["schemas"]["String"];
            /** @enum {string} */
            type: "job_removed";
        } | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_submitted";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_started";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_succeeded";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_failed";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_timed_out";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_cancelled";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_missed";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_skipped";
        }) | (components["schemas"]["RunRef"] & {
            /** @enum {string} */
            type: "run_abandoned";
        });
        /**
         * @description Every job definition, as `kairos export` and `GET /api/export` write them and both imports
         *     read them.
         */
        ExportDoc: {
            /** @description Job definitions. */
            jobs: components["schemas"]["Job"][];
            /**
             * Format: int32
             * @description The format version (1).
             */
            version: number;
        };
        /**
         * @description A job a run's end starts: `{"job": "report", "on": "succeeded"}`. The started run links
         *     back to it (`upstream`), and a shell command finds it in `KAIROS_UPSTREAM_JOB_ID`,
         *     `KAIROS_UPSTREAM_RUN_ID`, `KAIROS_UPSTREAM_STATE` and `KAIROS_UPSTREAM_EXIT_CODE`.
         */
        Follow: {
            /** @description The job to start. */
            job: components["schemas"]["String"];
            /** @description Which ends start it. */
            on?: components["schemas"]["FollowOn"];
        };
        /**
         * @description Which ends of a run start the jobs that follow it. A cancelled run starts none.
         * @enum {string}
         */
        FollowOn: "succeeded" | "failed" | "completed";
        /** @description Calls the function registered under `name`. */
        FunctionAction: {
            /** @description The registered name. */
            name: string;
        };
        /** @description What a group change did. */
        GroupChange: {
            /** @description How many jobs were paused or resumed (those already so are left alone). */
            changed: number;
            /** @description The tag. */
            tag: string;
        };
        /** @description How this process is. */
        Health: {
            /**
             * Format: int64
             * @description How far this machine's clock was from the database's at the last heartbeat (ms).
             */
            clock_skew_ms: number;
            /** @description What is wrong, when something is. */
            message?: string | null;
            /** @description This process's node id. */
            node: string;
            /**
             * @description `ok`, `disk_full`, `store_error` or `clock_skew`.
             * @example ok
             */
            status: string;
        };
        /** @description An HTTP request; the run succeeds when the status is within `expect_status`. */
        HttpAction: {
            /** @description Request body. */
            body?: string | null;
            /** @description Inclusive range of statuses that count as success. */
            expect_status?: [
                number,
                number
            ];
            /** @description Request headers. */
            headers?: {
                [key: string]: string;
            };
            /** @description Request method. */
            method?: string;
            /**
             * Format: int64
             * @description Request timeout in seconds (the job's timeout still applies).
             */
            timeout_s?: number | null;
            /** @description Absolute http or https URL. */
            url: string;
        };
        /** @description How many jobs an import added. */
        Imported: {
            /** @description Jobs added. */
            imported: number;
        };
        /** @description The JSON shape of an interval trigger. */
        IntervalTrigger: {
            /**
             * Format: int32
             * @description Days in the period.
             */
            days?: number;
            /**
             * Format: date-time
             * @description No fire time after this instant.
             */
            end?: string | null;
            /**
             * Format: int32
             * @description Hours in the period.
             */
            hours?: number;
            /**
             * Format: int32
             * @description Milliseconds in the period.
             */
            milliseconds?: number;
            /**
             * Format: int32
             * @description Minutes in the period.
             */
            minutes?: number;
            /**
             * Format: int32
             * @description Seconds in the period.
             */
            seconds?: number;
            /**
             * Format: date-time
             * @description The first fire time.
             */
            start?: string | null;
            /**
             * @description The zone fire times are shown in.
             * @example Europe/London
             */
            timezone?: string;
            /**
             * Format: int32
             * @description Weeks in the period.
             */
            weeks?: number;
        };
        /** @description A scheduled job as stored and exchanged. */
        Job: {
            /** @description What it does. */
            action: components["schemas"]["Action"];
            /** @description Longer free text. */
            description?: string;
            /** @description Unique identifier; an empty one is generated when the job is added. */
            id?: components["schemas"]["String"];
            /** @description Short human name. */
            name: string;
            /**
             * Format: date-time
             * @description The next fire time, `None` once the trigger is exhausted (computed; ignored on input).
             */
            next_run?: string | null;
            /** @description Labels a node must all have to run this job (none: any node). */
            node_labels?: string[];
            /** @description Overrides of the scheduler's job defaults. */
            options?: components["schemas"]["JobOptions"];
            /** @description A paused job keeps its schedule but does not fire. */
            paused?: boolean;
            /** @description The executor pool its runs go to. */
            pool?: string;
            /** @description Labels for filtering. */
            tags?: string[];
            /** @description Jobs to start when a run of this one ends (a chain). */
            then?: components["schemas"]["Follow"][];
            /** @description When it fires. */
            trigger: components["schemas"]["Trigger"];
        };
        /** @description How many jobs there are, by state and kind, for a dashboard. */
        JobCounts: {
            /** @description Jobs whose newest run failed, timed out or was abandoned. */
            failing: number;
            /** @description System-monitor jobs. */
            monitors: number;
            /** @description Paused jobs. */
            paused: number;
            /** @description Every job. */
            total: number;
        };
        /** @description The defaults every job starts from. */
        JobDefaults: {
            /** @description Which channels hear which outcomes of the runs of jobs without rules of their own. */
            alerts?: components["schemas"]["AlertRule"][];
            /** @description Overdue fire time policy. */
            coalesce: components["schemas"]["Coalesce"];
            /**
             * Format: int64
             * @description Largest random delay added to fire times, in seconds.
             */
            jitter_s: number;
            /**
             * Format: int32
             * @description Most runs of one job at once.
             */
            max_instances: number;
            /**
             * Format: int64
             * @description Seconds a fire may be late and still run; `None`: a late fire always runs (once).
             */
            misfire_grace_time_s?: number | null;
            /** @description Desktop notifications on failed, timed-out or missed runs. */
            notify?: boolean;
            /** @description History retention. */
            retention: components["schemas"]["Retention"];
            /** @description Retry policy. */
            retries: components["schemas"]["Retries"];
            /**
             * Format: int64
             * @description Run time limit in seconds; `None`: no limit.
             */
            timeout_s?: number | null;
        };
        /** @description A page of jobs. */
        JobList: {
            /** @description The jobs of this page. */
            items: components["schemas"]["JobView"][];
            /** @description Pass as `after` for the next page; absent on the last one. */
            next?: string | null;
            /** @description How many jobs match the filters, over all pages. */
            total: number;
        };
        /** @description A job's overrides; `None` takes the scheduler's default. */
        JobOptions: {
            /**
             * @description Which channels hear which outcomes of this job's runs (`[]`: none; absent: the
             *     defaults').
             */
            alerts?: components["schemas"]["AlertRule"][] | null;
            coalesce?: null | components["schemas"]["Coalesce"];
            /**
             * Format: int64
             * @description Largest random delay added to each fire time, in seconds.
             */
            jitter_s?: number | null;
            /**
             * Format: int32
             * @description Most runs of this job at once; a fire beyond it is skipped.
             */
            max_instances?: number | null;
            /**
             * Format: int64
             * @description A fire later than this many seconds is missed instead of run.
             */
            misfire_grace_time_s?: number | null;
            /** @description Whether a failed, timed-out or missed run raises a desktop notification. */
            notify?: boolean | null;
            retention?: null | components["schemas"]["Retention"];
            retries?: null | components["schemas"]["Retries"];
            /**
             * Format: int64
             * @description A run longer than this many seconds is stopped and marked timed out.
             */
            timeout_s?: number | null;
        };
        /**
         * @description The orders of a job list; ties go by id.
         * @enum {string}
         */
        JobSort: "name" | "-name" | "next_run" | "-next_run" | "last_run" | "-last_run";
        /** @description A job as the API shows it: its definition, its action's kind and its newest run. */
        JobView: components["schemas"]["Job"] & {
            /** @description The action's kind (the same as `action.kind`). */
            kind: components["schemas"]["ActionKind"];
            last_run?: null | components["schemas"]["LastRun"];
        };
        /**
         * @description The language of a channel's messages.
         * @enum {string}
         */
        Language: "en" | "zh-CN";
        /** @description The newest run of a job, as a job list shows it. */
        LastRun: {
            /**
             * Format: date-time
             * @description When it finished, once it has.
             */
            finished?: string | null;
            /**
             * Format: int64
             * @description The run's history id.
             */
            id: number;
            /**
             * Format: date-time
             * @description Its fire time.
             */
            scheduled: string;
            /** @description Its state. */
            state: components["schemas"]["RunState"];
        };
        /** @description System-monitor samples. */
        MetricList: {
            /** @description Samples, oldest first, averaged down to at most `points`. */
            items: components["schemas"]["MetricSample"][];
        };
        /** @description One sample of the machine's state. */
        MetricSample: {
            /**
             * Format: date-time
             * @description When it was taken.
             */
            at: string;
            /**
             * Format: double
             * @description CPU use over all cores, 0-100.
             */
            cpu_percent: number;
            /**
             * Format: int64
             * @description Disk space over all mounted disks, bytes.
             */
            disk_total: number;
            /**
             * Format: int64
             * @description Disk space in use over all mounted disks, bytes.
             */
            disk_used: number;
            /**
             * Format: double
             * @description Load average over 1 minute.
             */
            load_1: number;
            /**
             * Format: double
             * @description Load average over 15 minutes.
             */
            load_15: number;
            /**
             * Format: double
             * @description Load average over 5 minutes.
             */
            load_5: number;
            /**
             * Format: int64
             * @description Memory installed, bytes.
             */
            memory_total: number;
            /**
             * Format: int64
             * @description Memory in use, bytes.
             */
            memory_used: number;
            /**
             * Format: int64
             * @description Bytes received over all interfaces since boot.
             */
            net_rx_bytes: number;
            /**
             * Format: int64
             * @description Bytes sent over all interfaces since boot.
             */
            net_tx_bytes: number;
            /**
             * Format: int64
             * @description Swap available, bytes.
             */
            swap_total: number;
            /**
             * Format: int64
             * @description Swap in use, bytes.
             */
            swap_used: number;
        };
        /** @description Takes one sample of CPU, memory, swap, disk, network and load. */
        MonitorAction: Record<string, unknown>;
        /** @description Every node that shares the store, oldest first. */
        NodeList: {
            /**
             * Format: int32
             * @description Seconds between heartbeats.
             */
            heartbeat_s: number;
            /** @description The nodes, gone ones for a day after they left. */
            items: components["schemas"]["NodeView"][];
            /**
             * Format: int32
             * @description Seconds without a heartbeat after which a node's work is taken over.
             */
            lease_s: number;
        };
        /**
         * @description A node's state: alive (heartbeat within the lease), lapsed (about to be taken over), gone.
         * @enum {string}
         */
        NodeStatus: "alive" | "lapsed" | "gone";
        /** @description One process sharing the store. */
        NodeView: {
            /**
             * Format: int64
             * @description How far its clock was from the database's at its last heartbeat, in milliseconds.
             */
            clock_skew_ms: number;
            /**
             * Format: date-time
             * @description Its last heartbeat.
             */
            heartbeat: string;
            /** @description The machine's host name. */
            host: string;
            /** @description Unique per process start. */
            id: string;
            /** @description Labels that pinned jobs ask for. */
            labels: string[];
            /**
             * Format: date-time
             * @description When it shut down or was taken over.
             */
            left?: string | null;
            /**
             * Format: int32
             * @description The operating system's process id.
             */
            pid: number;
            /**
             * Format: int64
             * @description Its runs now submitted or running.
             */
            running: number;
            /**
             * Format: date-time
             * @description When it started.
             */
            started: string;
            /** @description Alive, lapsed or gone. */
            state: components["schemas"]["NodeStatus"];
            /** @description The node answering this request. */
            this: boolean;
            /**
             * Format: int64
             * @description Seconds since it started (until it left).
             */
            uptime_s: number;
            /** @description The Kairos version it runs. */
            version: string;
        };
        OrTrigger: {
            /** @description The members, at least one. */
            triggers: components["schemas"]["Trigger"][];
        };
        /** @description What to preview: a cron expression in a time zone. */
        PreviewRequest: {
            /**
             * Format: date-time
             * @description Fire times strictly after this RFC 3339 instant (default now).
             */
            after?: string | null;
            /** @description How many fire times, 1-100 (default 10). */
            count?: number;
            /** @description A cron expression (5, 6 or 7 fields, or `@daily` and friends). */
            expression: string;
            /** @description IANA time zone the expression is read in (default UTC). */
            timezone?: string;
        };
        /** @description The next fire times of a cron expression. */
        PreviewResponse: {
            /** @description RFC 3339 instants with the zone's offset at each. */
            times: string[];
        };
        /** @description A message's code and the parameters its template took. */
        Problem: {
            /** @description The stable code. */
            code: components["schemas"]["Code"];
            /** @description The template's parameters by name. */
            params: {
                [key: string]: string;
            };
        };
        /** @description How much run history to keep for a job. */
        Retention: {
            /**
             * Format: int32
             * @description Drop runs older than this many days.
             */
            max_age_days: number;
            /**
             * Format: int32
             * @description Keep at most this many runs.
             */
            max_runs: number;
        };
        /** @description Retry policy: how many more attempts after a failure, and the delay before each. */
        Retries: {
            /**
             * Format: double
             * @description Delay before the first retry, in seconds.
             */
            backoff_s?: number;
            /**
             * Format: int32
             * @description Extra attempts after the first failure.
             */
            count: number;
            /**
             * Format: double
             * @description Each further retry waits this factor longer.
             */
            factor?: number;
        };
        /** @description How many runs in one time bucket ended in one state. */
        RunBucket: {
            /**
             * Format: int64
             * @description How many runs.
             */
            count: number;
            /**
             * Format: date-time
             * @description The bucket's start.
             */
            start: string;
            /** @description The state counted. */
            state: components["schemas"]["RunState"];
        };
        /** @description A page of runs, newest first. */
        RunList: {
            /** @description Runs without their output (fetch one run for its stdout and stderr). */
            items: components["schemas"]["RunView"][];
        };
        /** @description What a run by hand ("run now with parameters") adds to the job's own action. */
        RunParams: {
            /**
             * @description Shell jobs: the command's positional arguments (`$1`, `$2`, …, `"$@"`).
             * @default []
             */
            args: string[];
            /**
             * @description HTTP jobs: the request body sent instead of the job's.
             * @default null
             */
            body: string | null;
            /**
             * @description Shell jobs: environment variables set over the job's own.
             * @default {}
             */
            env: {
                [key: string]: string;
            };
        };
        /** @description One run of a job. */
        RunRecord: {
            /**
             * Format: int32
             * @description 1 for the first try, 2 for the first retry, …
             */
            attempt: number;
            /** @description What went wrong. */
            error?: string | null;
            /**
             * Format: int32
             * @description A shell command's exit code.
             */
            exit_code?: number | null;
            /**
             * Format: date-time
             * @description When the run ended.
             */
            finished?: string | null;
            /**
             * Format: int32
             * @description An HTTP request's response status.
             */
            http_status?: number | null;
            /**
             * Format: int64
             * @description Unique, increasing run number.
             */
            id: number;
            /** @description The job that ran. */
            job_id: components["schemas"]["String"];
            /**
             * @description Run by hand ("run now") or by a chain, outside the schedule: not bound by one run
             *     per fire time.
             */
            manual?: boolean;
            /** @description The node (process) that claimed it. */
            node?: string | null;
            params?: null | components["schemas"]["RunParams"];
            /**
             * Format: date-time
             * @description The fire time it ran for.
             */
            scheduled: string;
            /**
             * Format: date-time
             * @description When the action started.
             */
            started?: string | null;
            /** @description Where the run is. */
            state: components["schemas"]["RunState"];
            /** @description The tail of standard error. */
            stderr?: string;
            /** @description The tail of standard output (or the response body). */
            stdout?: string;
            /** @description For a workflow step's run, the step's id (its workflow run is `upstream`). */
            step?: string | null;
            /**
             * Format: int64
             * @description The run whose end started this one through a chain (see `Job::then`), or for a
             *     workflow step, the workflow's run.
             */
            upstream?: number | null;
            usage?: null | components["schemas"]["RunUsage"];
        };
        /** @description Which run an event is about. */
        RunRef: {
            /**
             * Format: int32
             * @description 1 for the first try, 2 for the first retry, …
             */
            attempt?: number;
            /**
             * Format: int64
             * @description How long it ran, once it has ended.
             */
            duration_ms?: number | null;
            /** @description Error text for failed, timed-out and cancelled runs. */
            error?: string | null;
            /** @description The job. */
            job_id: components["schemas"]["String"];
            /**
             * Format: int64
             * @description The run's history id.
             */
            run_id: number;
            /**
             * Format: date-time
             * @description The fire time.
             */
            scheduled: string;
            /** @description For a workflow step's run, the step (its workflow's own run ends the workflow). */
            step?: string | null;
        };
        /** @description A run by hand's request. */
        RunRequest: {
            /** @description Variables and arguments for a shell command, a body for an HTTP request. */
            params?: components["schemas"]["RunParams"];
        };
        /** @description The id of a run just started. */
        RunStarted: {
            /**
             * Format: int64
             * @description The run's history id.
             */
            run_id: number;
        };
        /**
         * @description Where a run is in its life.
         * @enum {string}
         */
        RunState: "submitted" | "running" | "succeeded" | "failed" | "timed_out" | "cancelled" | "missed" | "skipped" | "abandoned";
        /** @description The resources a shell run used: the command and every process it waited for. */
        RunUsage: {
            /**
             * Format: int32
             * @description User plus system CPU time, in milliseconds.
             */
            cpu_ms: number;
            /**
             * Format: int32
             * @description The largest resident memory any one of its processes reached, in KiB.
             */
            peak_rss_kib: number;
        };
        /** @description A run as the API shows it: its record, and its error's code for a UI to translate. */
        RunView: components["schemas"]["RunRecord"] & {
            problem?: null | components["schemas"]["Problem"];
        };
        /** @description The scheduler's status with how late its runs started. */
        SchedulerView: components["schemas"]["Status"] & {
            /** @description Runs started since the process started, and their lateness. */
            stats: components["schemas"]["StartStats"];
        };
        /** @description The scheduler's settings: job defaults, executor pools and the cluster's timing. */
        Settings: {
            /** @description How processes sharing the store watch each other. */
            cluster?: components["schemas"]["ClusterSettings"];
            /** @description Defaults for job options. */
            defaults: components["schemas"]["JobDefaults"];
            /** @description Executor pools by name, each with its concurrency bound. */
            pools: {
                [key: string]: number;
            };
        };
        /** @description A shell command, run with stdin closed and its output captured. */
        ShellAction: {
            /** @description The command line, passed to the shell with `-c`. */
            command: string;
            /** @description Working directory (default: the scheduler's). */
            cwd?: string | null;
            /** @description Extra environment variables. */
            env?: {
                [key: string]: string;
            };
            /** @description How many bytes of each of stdout and stderr to keep (the tail). */
            output_cap_bytes?: number;
            /** @description The shell to run it with. */
            shell?: string;
        };
        /**
         * @description How an SMTP connection is secured.
         * @enum {string}
         */
        SmtpSecurity: "starttls" | "tls" | "none";
        /** @description Runs started since the process started, and how late. */
        StartStats: {
            /**
             * Format: double
             * @description Largest start lateness, milliseconds.
             */
            lateness_max_ms: number;
            /**
             * Format: double
             * @description Mean start lateness, milliseconds.
             */
            lateness_mean_ms: number;
            /**
             * Format: double
             * @description Median start lateness, milliseconds.
             */
            lateness_p50_ms: number;
            /**
             * Format: double
             * @description 99th percentile start lateness, milliseconds.
             */
            lateness_p99_ms: number;
            /**
             * Format: int64
             * @description Runs started.
             */
            started: number;
        };
        /** @description What the scheduler is doing, for status displays. */
        Status: {
            /**
             * Format: int64
             * @description Runs submitted or running now.
             */
            active_runs: number;
            /**
             * Format: int64
             * @description How far this machine's clock was from the database's at the last heartbeat (ms).
             */
            clock_skew_ms: number;
            /** @description The clock is further from the database's than allowed: this node claims no fires. */
            clock_skewed: boolean;
            /** @description Jobs known. */
            jobs: number;
            /**
             * Format: date-time
             * @description The earliest next fire time of any unpaused job.
             */
            next_run?: string | null;
            /** @description This process's node id in the store. */
            node: string;
            /** @description All jobs are paused. */
            paused: boolean;
            /** @description The run loop is running. */
            running: boolean;
            store_failure?: null | components["schemas"]["StoreFailure"];
        };
        /** @description One step of a workflow: an action of its own, or another job's action and options. */
        Step: {
            action?: null | components["schemas"]["Action"];
            /** @description Names the step in edges and in its runs (letters, digits, `-` and `_`). */
            id: string;
            /** @description Run this existing job's action, with its options; give this or `action`. */
            job?: string | null;
            retries?: null | components["schemas"]["Retries"];
            /**
             * Format: int64
             * @description Stop the step after this many seconds (default: no limit of its own, the workflow's
             *     timeout bounding it; for a step running another job, that job's timeout).
             */
            timeout_s?: number | null;
        };
        /** @description Why the store cannot be written to. */
        StoreFailure: {
            /** @description The disk holding the database is full. */
            disk_full: boolean;
            /** @description The store's error. */
            message: string;
        };
        String: string;
        /** @description A tag and how many jobs carry it: a group of jobs in the job list. */
        TagCount: {
            /** @description Jobs with the tag. */
            jobs: number;
            /** @description Of those, paused ones. */
            paused: number;
            /** @description The tag (tags differing only in case count as one). */
            tag: string;
        };
        /** @description Every tag with its jobs. */
        TagList: {
            /** @description By tag, case-insensitively. */
            items: components["schemas"]["TagCount"][];
        };
        /** @description A channel's service and its settings. JSON: `{"kind":"slack","url":"https://hooks…"}`. */
        Target: {
            /** @description Extra request headers (e.g. `Authorization`). */
            headers?: {
                [key: string]: string;
            };
            /** @enum {string} */
            kind: "webhook";
            /**
             * @description The body, with `{{job_id}}`, `{{job_name}}`, `{{run_id}}`, `{{outcome}}`,
             *     `{{title}}`, `{{text}}`, `{{error}}`, `{{scheduled}}`, `{{link}}` and
             *     `{{held_back}}` replaced by
             *     JSON-escaped values; absent: a JSON object with those fields.
             */
            template?: string | null;
            /** @description The URL. */
            url: string;
        } | {
            /** @enum {string} */
            kind: "slack";
            /** @description The webhook URL (a secret). */
            url: string;
        } | {
            /** @enum {string} */
            kind: "dingtalk";
            /** @description The robot's signing secret (`SEC…`), when signing is on. */
            secret?: string | null;
            /** @description The robot's URL with its access token (a secret). */
            url: string;
        } | {
            /** @enum {string} */
            kind: "feishu";
            /** @description The bot's signature secret, when signature verification is on. */
            secret?: string | null;
            /** @description The bot's webhook URL (a secret). */
            url: string;
        } | {
            /** @enum {string} */
            kind: "wecom";
            /** @description The robot's webhook URL with its key (a secret). */
            url: string;
        } | {
            /** @description The sender, e.g. `Kairos <kairos@example.com>`. */
            from: string;
            /** @description The SMTP server's host name. */
            host: string;
            /** @enum {string} */
            kind: "email";
            /** @description Its password (a secret). */
            password?: string | null;
            /**
             * Format: int32
             * @description Its port (587 for STARTTLS, 465 for TLS, 25 for none).
             */
            port: number;
            /** @description How the connection is secured. */
            security?: components["schemas"]["SmtpSecurity"];
            /** @description The recipients. */
            to: string[];
            /** @description The user to log in as, if the server wants a login. */
            username?: string | null;
        };
        /**
         * @description When a job fires. JSON shapes, with `timezone` an IANA name defaulting to `UTC` and
         *     `start`/`end` optional RFC 3339 bounds:
         *
         *     - `{"type":"date","at":"2026-01-01T09:00:00Z"}`
         *     - `{"type":"interval","hours":1,"minutes":30,"start":…}` (also `weeks`, `days`, `seconds`)
         *     - `{"type":"cron","expression":"0 9 * * mon-fri","timezone":"Europe/London"}`
         *     - `{"type":"calendar_interval","every":2,"unit":"months","start_date":"2026-01-31","time":"09:00:00"}`
         *     - `{"type":"or","triggers":[…]}` and `{"type":"and","triggers":[…],"threshold_seconds":1}`
         */
        Trigger: (components["schemas"]["DateTrigger"] & {
            /** @enum {string} */
            type: "date";
        }) | (components["schemas"]["IntervalTrigger"] & {
            /** @enum {string} */
            type: "interval";
        }) | (components["schemas"]["CronTrigger"] & {
            /** @enum {string} */
            type: "cron";
        }) | (components["schemas"]["CalendarIntervalTrigger"] & {
            /** @enum {string} */
            type: "calendar_interval";
        }) | (components["schemas"]["AndTrigger"] & {
            /** @enum {string} */
            type: "and";
        }) | (components["schemas"]["OrTrigger"] & {
            /** @enum {string} */
            type: "or";
        });
        /** @description A trigger's next fire times and summary. */
        TriggerPreview: {
            /** @description The engine's one-line summary, e.g. `every 1h 30m` (English). */
            summary: string;
            /**
             * @description RFC 3339 instants with the offset of the trigger's zone at each; fewer than asked
             *     (or none) when the trigger runs out.
             */
            times: string[];
            /** @description The zone the times are given in. */
            timezone: string;
        };
        /** @description What to preview: any trigger. */
        TriggerPreviewRequest: {
            /**
             * Format: date-time
             * @description Fire times strictly after this RFC 3339 instant (default now).
             */
            after?: string | null;
            /** @description How many fire times, 1-100 (default 10). */
            count?: number;
            /** @description The trigger, as a job holds it. */
            trigger: components["schemas"]["Trigger"];
        };
        /**
         * @description Steps and the edges between them. A step starts once every step with an edge to it has
         *     ended and each such edge's condition holds; when one does not, the step is skipped (and so
         *     are the steps after it). Steps without a path between them run in parallel.
         */
        WorkflowAction: {
            /** @description Which step follows which, and on what end. */
            edges?: components["schemas"]["Edge"][];
            /** @description The steps, each with an id unique in the workflow. */
            steps: components["schemas"]["Step"][];
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    list_channels: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The channels */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChannelList"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_channel: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A channel (id optional) */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Channel"];
            };
        };
        responses: {
            /** @description The channel as added, secrets masked */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Channel"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad field, named in `field` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_channel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The channel id */
                id: string;
            };
            cookie?: never;
        };
        /** @description The new definition (id ignored) */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Channel"];
            };
        };
        responses: {
            /** @description The channel as saved, secrets masked */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Channel"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such channel */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad field, named in `field` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_channel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The channel id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such channel */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    test_channel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The channel id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The attempt: `ok`, or the service's `error` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Delivery"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such channel */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    cron_preview: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PreviewRequest"];
            };
        };
        responses: {
            /** @description Fire times */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PreviewResponse"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad expression, timezone or count */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_database: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The database */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatabaseInfo"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    put_database: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The database to use from the next start */
        requestBody: {
            content: {
                "application/json": components["schemas"]["DatabaseChoice"];
            };
        };
        responses: {
            /** @description The database in use and the one chosen */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatabaseInfo"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description This process cannot switch databases */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description The location is malformed or does not open */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description The choice could not be kept */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    restart_on_database: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The app is restarting */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatabaseInfo"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description This process cannot switch databases */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_deliveries: {
        parameters: {
            query?: {
                /** @description Only this channel's deliveries. */
                channel?: string;
                /** @description How many, 1-1000 (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The attempts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeliveryList"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description limit out of range */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    events: {
        parameters: {
            query?: {
                /**
                 * @description Comma-separated event types to receive (default: all), e.g. `run_failed,job_added`.
                 * @example run_failed,job_added
                 */
                types?: string;
                /** @description The API token, for clients that cannot send headers (browsers' EventSource). */
                token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description text/event-stream of events */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description An unknown event type */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    export_jobs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description {version: 1, jobs: [Job…]} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExportDoc"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    import_jobs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description An export document */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ExportDoc"];
            };
        };
        responses: {
            /** @description All jobs were added */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Imported"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description Body over 16 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad field (e.g. `jobs[3].id` for a duplicate); nothing was added */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_jobs: {
        parameters: {
            query?: {
                /** @description Case-insensitive text to find in the id, name, description or tags. */
                q?: string;
                /** @description Only jobs whose action is of this kind. */
                kind?: components["schemas"]["ActionKind"];
                /** @description Only jobs with this tag (case-insensitive). */
                tag?: string;
                /** @description Only paused (true) or unpaused (false) jobs. */
                paused?: boolean;
                /** @description Only jobs whose newest run is in this state. */
                last_state?: components["schemas"]["RunState"];
                /** @description The order (default `name`). */
                sort?: components["schemas"]["JobSort"];
                /** @description Jobs to skip before the page (ignored with `after`). */
                offset?: number;
                /**
                 * @description The `next` cursor of the previous page: the page that follows it, stable while jobs
                 *     are added or removed before it (unlike `offset`).
                 */
                after?: string;
                /** @description Page size, 1-1000 (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of jobs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobList"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A query parameter out of range */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_job: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A job (id optional, next_run ignored) */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Job"];
            };
        };
        responses: {
            /** @description The job as added, with its next fire time */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobView"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description Body over 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad field, named in `field` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_job: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobView"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_job: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The job id */
                id: string;
            };
            cookie?: never;
        };
        /** @description The new definition (id and next_run ignored) */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Job"];
            };
        };
        responses: {
            /** @description The job as saved */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobView"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad field, named in `field` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_job: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    pause_job: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The paused job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobView"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    resume_job: {
        parameters: {
            query?: {
                /** @description Run fire times missed while paused (default false). */
                catch_up?: boolean;
            };
            header?: never;
            path: {
                /** @description The job id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The resumed job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobView"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    run_job: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The job id */
                id: string;
            };
            cookie?: never;
        };
        /** @description Optional: the run's parameters */
        requestBody?: {
            content: {
                "application/json": null | components["schemas"]["RunRequest"];
            };
        };
        responses: {
            /** @description The run was submitted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunStarted"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such job */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description The job already has its maximum number of runs active */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description Body over 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A parameter the job cannot take, named in `field` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    system_metrics: {
        parameters: {
            query?: {
                /** @description RFC 3339 start (default: 1 hour before `to`). */
                from?: string;
                /** @description RFC 3339 end (default: now). */
                to?: string;
                /** @description Most points to return, 1-5000 (default 300). */
                points?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Samples */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MetricList"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description points out of range, or an empty window */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_nodes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every node, oldest first */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NodeList"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description The store failed */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_runs: {
        parameters: {
            query?: {
                /** @description Only this job's runs. */
                job_id?: string;
                /** @description Only runs scheduled at or after this RFC 3339 instant. */
                from?: string;
                /** @description Only runs scheduled before this RFC 3339 instant. */
                to?: string;
                /**
                 * @description Comma-separated states, e.g. `failed,timed_out`.
                 * @example failed,timed_out
                 */
                state?: string;
                /** @description Only runs with a smaller id (paging backwards). */
                before_id?: number;
                /** @description Only the runs this run started: a workflow run's steps, or a chain's followers. */
                upstream?: number;
                /** @description Only runs claimed by this node (its id, as `/api/nodes` lists it). */
                node?: string;
                /** @description Only finished runs that ran at least this many milliseconds. */
                min_duration_ms?: number;
                /** @description Page size, 1-1000 (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Runs, newest first, without stdout/stderr and parameters */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunList"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description limit out of range */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_run: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The run id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The run (output so far while it runs here) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description The id is not a number */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such run */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    cancel_run: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The run id */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Cancel requested; the run as it stood */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description The id is not a number */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such run */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description The run already ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    retry_step: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The step's newest run */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The step runs again; the workflow's run, running again */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description The id is not a number */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No such run */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description Not a step's newest run, or its workflow run has not ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    scheduler_status: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The scheduler's status */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SchedulerView"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    pause_scheduler: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The new status */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SchedulerView"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    resume_scheduler: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The new status */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SchedulerView"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_settings: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Settings */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Settings"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    put_settings: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The new settings */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Settings"];
            };
        };
        responses: {
            /** @description The settings as saved */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Settings"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad field, named in `field` */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    duration_stats: {
        parameters: {
            query?: {
                /** @description RFC 3339 start (default: 7 days before `to`). */
                from?: string;
                /** @description RFC 3339 end (default: now). */
                to?: string;
                /** @description Only this job's runs. */
                job_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Percentiles per job */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DurationList"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description An empty window (from not before to) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    job_counts: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Job counts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobCounts"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    run_stats: {
        parameters: {
            query?: {
                /** @description RFC 3339 start (default: 7 days before `to`). */
                from?: string;
                /** @description RFC 3339 end (default: now). */
                to?: string;
                /** @description Bucket width in seconds, 1 to 10 years (default 3600); at most 10,000 buckets. */
                bucket_s?: number;
                /** @description Only this job's runs. */
                job_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Counts per bucket and state */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BucketList"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description Too many buckets or an empty window */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_tags: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Tags and their job counts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TagList"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    pause_tag: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The tag */
                tag: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description How many jobs were paused */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GroupChange"];
                };
            };
            /** @description A bad request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    resume_tag: {
        parameters: {
            query?: {
                /** @description Run fire times missed while paused (default false). */
                catch_up?: boolean;
            };
            header?: never;
            path: {
                /** @description The tag */
                tag: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description How many jobs were resumed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GroupChange"];
                };
            };
            /** @description A bad query parameter */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    trigger_preview: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TriggerPreviewRequest"];
            };
        };
        responses: {
            /** @description Fire times */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TriggerPreview"];
                };
            };
            /** @description Malformed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description No token, or a wrong one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description A bad trigger or count */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Serving, writing and claiming fires */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description `store_error` or `clock_skew`: this node runs nothing */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description `disk_full`: the database cannot grow */
            507: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text format 0.0.4 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description No or wrong token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
}
