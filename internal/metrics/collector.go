package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

var containerLabels = []string{"namespace", "pod", "container"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

func withReason(l []string) []string { return append(append([]string{}, l...), "reason") }

// Given-up reasons. Lines: malformed (skipped by the decoder; also per container),
// retry_expired (node-wide only: batches a sink gave up after retry.max_duration;
// sinks do not know the containers of their records). Bytes: budget (deleted files given
// up past sources.deleted_budget), line_cap (message bytes cut by max_line_bytes or
// max_merged_bytes; the line itself is shipped, flagged truncated).
var (
	lineReasons = []string{"malformed", "retry_expired"}
	byteReasons = []string{"budget", "line_cap"}
)

var (
	cReadBytes   = desc("container_read_bytes_total", "Input bytes read from the container's log files.", containerLabels...)
	cReadLines   = desc("container_read_lines_total", "Logical log lines read from the container's log files (after partial-line merging).", containerLabels...)
	cLagBytes    = desc("container_lag_bytes", "Bytes written to the container's log files and not yet acknowledged by every sink.", containerLabels...)
	cLagSeconds  = desc("container_lag_seconds", "Age of the container's oldest line not yet acknowledged by every sink; 0 when caught up.", containerLabels...)
	cLinesGiven  = desc("container_lines_given_up_total", "Lines of the container that will never be delivered, by reason.", withReason(containerLabels)...)
	cBytesGiven  = desc("container_bytes_given_up_total", "Bytes of the container that will never be delivered, by reason.", withReason(containerLabels)...)
	cLastLine    = desc("container_last_line_timestamp_seconds", "Log timestamp of the newest line read from the container, unix seconds.", containerLabels...)
	cFilesOpen   = desc("container_files_open", "Log files of the container held open.", containerLabels...)
	cDeleted     = desc("container_deleted_files_held", "Deleted log files of the container still held open to be read to their end.", containerLabels...)
	cDeletedSz   = desc("container_deleted_bytes_held", "Bytes on disk of the deleted files still held open.", containerLabels...)
	cRotations   = desc("container_rotations_total", "Rotations (renames of the live file) seen for the container.", containerLabels...)
	cTruncations = desc("container_truncations_total", "Times a file of the container shrank below the read offset (copytruncate); reading restarted at 0.", containerLabels...)

	nReadBytes   = desc("read_bytes_total", "Input bytes read from all log files.")
	nReadLines   = desc("read_lines_total", "Logical lines read from all log files.")
	nLinesGiven  = desc("lines_given_up_total", "Lines that will never be delivered, by reason, over all containers including forgotten ones.", "reason")
	nBytesGiven  = desc("bytes_given_up_total", "Bytes that will never be delivered, by reason, over all containers including forgotten ones.", "reason")
	nMalformed   = desc("malformed_lines_total", "Malformed lines skipped, by the decoder's reason.", "reason")
	nInvalidUTF8 = desc("invalid_utf8_lines_total", "Lines whose invalid UTF-8 was replaced by U+FFFD (each record is flagged invalid_utf8).")
	nPartial     = desc("partial_flushes_total", "Partial lines shipped without their final fragment (timeout, restart or end of file).")
	nOpenErrors  = desc("open_errors_total", "Log files that could not be opened or read (each is retried).")
	nDiscovery   = desc("discovery_errors_total", "Problems discovery reported: unreadable or replaced directories, failed watches.")
	nContainers  = desc("containers", "Containers whose log files the agent follows.")
	nFilesOpen   = desc("files_open", "Log files held open.")
	nRotations   = desc("rotations_total", "Rotations seen over all containers.")
	nTruncations = desc("truncations_total", "Truncations seen over all containers.")
	nBuffer      = desc("buffer_bytes", "Bytes of encoded records in flight between readers and sinks.")
	nBufferLimit = desc("buffer_limit_bytes", "Limit of buffer_bytes (pipeline.max_buffer_bytes); reading pauses at the limit.")
	nCorrupt     = desc("checkpoint_corrupt_total", "Checkpoint stores found corrupt at start and set aside (reading restarted from the start of every file).")
	nEntries     = desc("checkpoint_entries", "Files the checkpoint store holds an offset for.")

	sinkLabels    = []string{"sink", "type"}
	sRecords      = desc("sink_records_total", "Records the sink acknowledged.", sinkLabels...)
	sBytes        = desc("sink_bytes_total", "Bytes of encoded records the sink acknowledged.", sinkLabels...)
	sBatches      = desc("sink_batches_total", "Batches the sink acknowledged.", sinkLabels...)
	sRetries      = desc("sink_retries_total", "Delivery attempts that repeated a batch after a failure.", sinkLabels...)
	sFailures     = desc("sink_failures_total", "Failed delivery attempts, by reason (transient: retried; permanent: the sink says retrying cannot help).", append(append([]string{}, sinkLabels...), "reason")...)
	sInFlight     = desc("sink_in_flight_chunks", "Chunks handed to the sink and not yet acknowledged.", sinkLabels...)
	sUp           = desc("sink_up", "1 when the sink's last delivery attempt succeeded (or none was needed yet), 0 while it is failing.", sinkLabels...)
	sDropped      = desc("sink_dropped_records_total", "Records the sink gave up after retry.max_duration (never delivered).", sinkLabels...)
	sDeadLettered = desc("sink_dead_lettered_records_total", "Records the destination refused for good, written to the sink's dead-letter file.", sinkLabels...)
	sTruncated    = desc("sink_truncated_records_total", "Records too large for the destination, sent cut with a truncation marker.", sinkLabels...)
	sFallback     = desc("sink_fallback_records_total", "Records that lacked a field of the destination template and went to the fallback destination.", sinkLabels...)
	sLastSuccess  = desc("sink_last_success_timestamp_seconds", "When the sink last acknowledged a batch, unix seconds (absent before the first).", sinkLabels...)
	kPods         = desc("kubernetes_pods", "Pods of this node in the metadata cache (deleted ones included while their files are read).")
	kSynced       = desc("kubernetes_synced", "1 once the first list of this node's pods completed.")
	kEvents       = desc("kubernetes_events_total", "Pod add, update and delete events received from the watch.")
	kRequests     = desc("kubernetes_api_requests_total", "Requests to the API server, by verb (list, watch); never one per record or file.", "verb")
	kRestarts     = desc("kubernetes_watch_restarts_total", "Times the pod list and watch had to start over (watch expired or failed).")
	kErrors       = desc("kubernetes_api_errors_total", "Failed list or watch requests; metadata is then filled in when the watch recovers.")
	kLastEvent    = desc("kubernetes_last_event_timestamp_seconds", "When the last pod event arrived, unix seconds.")
	pExcluded     = desc("pod_lines_excluded_total", "Lines of excluded containers (logferry.io/exclude) read and not shipped.")
	pFiltered     = desc("pod_lines_filtered_total", "Lines dropped by include/drop settings.")
	pLimited      = desc("pod_rate_limited_lines_total", "Lines dropped by a pod's rate limit (logferry.io/rate-limit).")
	pLimitedBytes = desc("pod_rate_limited_bytes_total", "Message bytes of the lines dropped by rate limits.")
	pParseFail    = desc("pod_parse_failures_total", "Lines whose body did not parse as the pod asked (shipped as they were, flagged parse_failed).")
	pMultiline    = desc("pod_multiline_groups_total", "Records that joined two or more lines (multiline).")
	pProblems     = desc("pod_config_problems_total", "Bad pod settings (annotations) reported as Events and ignored.")
	cSilence      = desc("container_silence_threshold_seconds", "The container's logferry.io/silence-after: how long it may be silent before the LogferryContainerSilent alert.", containerLabels...)
	allStateDescs = []*prometheus.Desc{pExcluded, pFiltered, pLimited, pLimitedBytes, pParseFail, pMultiline, pProblems, cSilence, kPods, kSynced, kEvents, kRequests, kRestarts, kErrors, kLastEvent, cReadBytes, cReadLines, cLagBytes, cLagSeconds, cLinesGiven, cBytesGiven,
		cLastLine, cFilesOpen, cDeleted, cDeletedSz, cRotations, cTruncations,
		nReadBytes, nReadLines, nLinesGiven, nBytesGiven, nMalformed, nPartial, nInvalidUTF8, nOpenErrors, nDiscovery,
		nContainers, nFilesOpen, nRotations, nTruncations, nBuffer, nBufferLimit, nCorrupt, nEntries,
		sRecords, sBytes, sBatches, sRetries, sFailures, sInFlight, sUp, sLastSuccess, sDropped, sDeadLettered, sTruncated, sFallback}
)

// collector emits the state metrics from a fresh Snapshot at each scrape.
type collector struct{ snap func() Snapshot }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allStateDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}

	// Two groups can carry the same labels (a docker container's directories across
	// restarts, a pod recreated with the same name): their values are summed so every
	// series is unique.
	type key struct{ ns, pod, ctr string }
	type agg struct {
		readBytes, readLines, malformed, lineCap, budget, rot, trunc, lag float64
		open, deleted, deletedSz, lagSec, last                            float64
	}
	byKey := map[key]*agg{}
	var rotations, truncations float64
	for _, g := range s.Containers {
		k := key{g.Source.Namespace, g.Source.Pod, g.Source.Container}
		a := byKey[k]
		if a == nil {
			a = &agg{}
			byKey[k] = a
		}
		a.readBytes += float64(g.ReadBytes)
		a.readLines += float64(g.ReadLines)
		a.malformed += float64(g.MalformedLines)
		a.lineCap += float64(g.LineCapBytes)
		a.budget += float64(g.BudgetBytes)
		a.rot += float64(g.Rotations)
		a.trunc += float64(g.Truncations)
		a.lag += float64(g.LagBytes)
		a.open += float64(g.Open)
		a.deleted += float64(g.Deleted)
		a.deletedSz += float64(g.DeletedSz)
		a.lagSec = max(a.lagSec, g.Lag.Seconds())
		if !g.LastLine.IsZero() {
			a.last = max(a.last, float64(g.LastLine.UnixNano())/1e9)
		}
		rotations += float64(g.Rotations)
		truncations += float64(g.Truncations)
	}
	for k, a := range byKey {
		l := []string{k.ns, k.pod, k.ctr}
		counter(cReadBytes, a.readBytes, l...)
		counter(cReadLines, a.readLines, l...)
		gauge(cLagBytes, a.lag, l...)
		gauge(cLagSeconds, a.lagSec, l...)
		counter(cLinesGiven, a.malformed, k.ns, k.pod, k.ctr, "malformed")
		counter(cBytesGiven, a.budget, k.ns, k.pod, k.ctr, "budget")
		counter(cBytesGiven, a.lineCap, k.ns, k.pod, k.ctr, "line_cap")
		if a.last > 0 {
			gauge(cLastLine, a.last, l...)
		}
		gauge(cFilesOpen, a.open, l...)
		gauge(cDeleted, a.deleted, l...)
		gauge(cDeletedSz, a.deletedSz, l...)
		counter(cRotations, a.rot, l...)
		counter(cTruncations, a.trunc, l...)
	}

	if t := s.Tail; t != nil {
		counter(nReadBytes, float64(t.BytesRead.Load()))
		counter(nReadLines, float64(t.LinesRead.Load()))
		malformed := t.Malformed()
		var malformedTotal int64
		reasons := make([]string, 0, len(malformed))
		for r, n := range malformed {
			reasons = append(reasons, r)
			malformedTotal += n
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			counter(nMalformed, float64(malformed[r]), r)
		}
		var dropped uint64
		for _, sk := range s.Sinks {
			dropped += sk.Stats.Dropped
		}
		given := map[string]float64{"malformed": float64(malformedTotal), "retry_expired": float64(dropped)}
		for _, r := range lineReasons {
			counter(nLinesGiven, given[r], r)
		}
		bytesGiven := map[string]float64{"budget": float64(t.LostBytes.Load()), "line_cap": float64(t.DroppedBytes.Load())}
		for _, r := range byteReasons {
			counter(nBytesGiven, bytesGiven[r], r)
		}
		counter(nPartial, float64(t.PartialFlush.Load()))
		counter(nInvalidUTF8, float64(t.InvalidUTF8.Load()))
		counter(nOpenErrors, float64(t.OpenErrors.Load()))
		gauge(nFilesOpen, float64(t.FilesOpen.Load()))
		counter(nRotations, float64(t.Rotations.Load()))
		counter(nTruncations, float64(t.Truncations.Load()))
	}
	counter(nDiscovery, float64(s.DiscoveryErrors))
	gauge(nContainers, float64(len(byKey)))
	gauge(nBuffer, float64(s.BufferUsed))
	gauge(nBufferLimit, float64(s.BufferLimit))
	counter(nCorrupt, float64(s.CorruptCheckpoints))
	gauge(nEntries, float64(s.CheckpointEntries))

	if p := s.Process; p != nil {
		counter(pExcluded, float64(p.Excluded.Load()))
		counter(pFiltered, float64(p.Filtered.Load()))
		counter(pLimited, float64(p.RateLimitedLines.Load()))
		counter(pLimitedBytes, float64(p.RateLimitedBytes.Load()))
		counter(pParseFail, float64(p.ParseFailures.Load()))
		counter(pMultiline, float64(p.MultilineGroups.Load()))
		counter(pProblems, float64(s.PodProblems))
	}
	seen := map[key]bool{}
	for _, sl := range s.Silences {
		k := key{sl.Namespace, sl.Pod, sl.Container}
		if !seen[k] {
			seen[k] = true
			gauge(cSilence, sl.After.Seconds(), k.ns, k.pod, k.ctr)
		}
	}
	if k := s.Kube; k != nil {
		gauge(kPods, float64(k.Pods))
		synced := 0.0
		if k.Synced {
			synced = 1
		}
		gauge(kSynced, synced)
		counter(kEvents, float64(k.Events))
		counter(kRequests, float64(k.Lists), "list")
		counter(kRequests, float64(k.Watches), "watch")
		counter(kRestarts, float64(k.WatchRestarts))
		counter(kErrors, float64(k.ListErrors))
		if !k.LastEvent.IsZero() {
			gauge(kLastEvent, float64(k.LastEvent.UnixNano())/1e9)
		}
	}
	for _, sk := range s.Sinks {
		l := []string{sk.Name, sk.Type}
		st := sk.Stats
		counter(sRecords, float64(st.Records), l...)
		counter(sBytes, float64(st.Bytes), l...)
		counter(sBatches, float64(st.Batches), l...)
		counter(sRetries, float64(st.Retries), l...)
		counter(sFailures, float64(st.Failures-st.PermanentFailures), sk.Name, sk.Type, "transient")
		counter(sFailures, float64(st.PermanentFailures), sk.Name, sk.Type, "permanent")
		gauge(sInFlight, float64(st.InFlight), l...)
		counter(sDropped, float64(st.Dropped), l...)
		counter(sDeadLettered, float64(st.Counts.DeadLettered), l...)
		counter(sTruncated, float64(st.Counts.Truncated), l...)
		counter(sFallback, float64(st.Counts.Fallback), l...)
		up := 0.0
		if st.Healthy {
			up = 1
		}
		gauge(sUp, up, l...)
		if !st.LastSuccessAt.IsZero() {
			gauge(sLastSuccess, float64(st.LastSuccessAt.UnixNano())/1e9, l...)
		}
	}
}
