from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PriorConfidence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIOR_CONFIDENCE_UNSPECIFIED: _ClassVar[PriorConfidence]
    PRIOR_LOW: _ClassVar[PriorConfidence]
    PRIOR_MEDIUM: _ClassVar[PriorConfidence]
    PRIOR_HIGH: _ClassVar[PriorConfidence]

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MIN: _ClassVar[Mode]
    MAX: _ClassVar[Mode]

class ConstraintOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSTRAINT_OP_UNSPECIFIED: _ClassVar[ConstraintOp]
    LESS_EQUAL: _ClassVar[ConstraintOp]
    GREATER_EQUAL: _ClassVar[ConstraintOp]

class StudyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STUDY_STATE_UNSPECIFIED: _ClassVar[StudyState]
    STUDY_RUNNING: _ClassVar[StudyState]
    STUDY_DONE: _ClassVar[StudyState]
    STUDY_STOPPED: _ClassVar[StudyState]

class TrialStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIAL_STATUS_UNSPECIFIED: _ClassVar[TrialStatus]
    RUNNING: _ClassVar[TrialStatus]
    PAUSED: _ClassVar[TrialStatus]
    COMPLETED: _ClassVar[TrialStatus]
    STOPPED: _ClassVar[TrialStatus]
    FAILED: _ClassVar[TrialStatus]

class JobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_KIND_UNSPECIFIED: _ClassVar[JobKind]
    START: _ClassVar[JobKind]
    RESUME: _ClassVar[JobKind]
    WAIT: _ClassVar[JobKind]
    DONE: _ClassVar[JobKind]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    CONTINUE: _ClassVar[Decision]
    PAUSE: _ClassVar[Decision]
    STOP: _ClassVar[Decision]
PRIOR_CONFIDENCE_UNSPECIFIED: PriorConfidence
PRIOR_LOW: PriorConfidence
PRIOR_MEDIUM: PriorConfidence
PRIOR_HIGH: PriorConfidence
MODE_UNSPECIFIED: Mode
MIN: Mode
MAX: Mode
CONSTRAINT_OP_UNSPECIFIED: ConstraintOp
LESS_EQUAL: ConstraintOp
GREATER_EQUAL: ConstraintOp
STUDY_STATE_UNSPECIFIED: StudyState
STUDY_RUNNING: StudyState
STUDY_DONE: StudyState
STUDY_STOPPED: StudyState
TRIAL_STATUS_UNSPECIFIED: TrialStatus
RUNNING: TrialStatus
PAUSED: TrialStatus
COMPLETED: TrialStatus
STOPPED: TrialStatus
FAILED: TrialStatus
JOB_KIND_UNSPECIFIED: JobKind
START: JobKind
RESUME: JobKind
WAIT: JobKind
DONE: JobKind
DECISION_UNSPECIFIED: Decision
CONTINUE: Decision
PAUSE: Decision
STOP: Decision

class Value(_message.Message):
    __slots__ = ("float_value", "int_value", "string_value", "bool_value")
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    float_value: float
    int_value: int
    string_value: str
    bool_value: bool
    def __init__(self, float_value: _Optional[float] = ..., int_value: _Optional[int] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class Config(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.MessageMap[str, Value]
    def __init__(self, values: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class FloatDomain(_message.Message):
    __slots__ = ("low", "high", "log")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    log: bool
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., log: _Optional[bool] = ...) -> None: ...

class IntDomain(_message.Message):
    __slots__ = ("low", "high", "log")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    low: int
    high: int
    log: bool
    def __init__(self, low: _Optional[int] = ..., high: _Optional[int] = ..., log: _Optional[bool] = ...) -> None: ...

class CategoricalDomain(_message.Message):
    __slots__ = ("choices",)
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, choices: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class FiniteRangeDomain(_message.Message):
    __slots__ = ("low", "high", "size", "log", "cast_int")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    CAST_INT_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    size: int
    log: bool
    cast_int: bool
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., size: _Optional[int] = ..., log: _Optional[bool] = ..., cast_int: _Optional[bool] = ...) -> None: ...

class Parameter(_message.Message):
    __slots__ = ("name", "float_domain", "int_domain", "categorical", "finite_range", "condition", "prior", "confidence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FLOAT_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    INT_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_FIELD_NUMBER: _ClassVar[int]
    FINITE_RANGE_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    PRIOR_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    float_domain: FloatDomain
    int_domain: IntDomain
    categorical: CategoricalDomain
    finite_range: FiniteRangeDomain
    condition: ParameterCondition
    prior: Value
    confidence: PriorConfidence
    def __init__(self, name: _Optional[str] = ..., float_domain: _Optional[_Union[FloatDomain, _Mapping]] = ..., int_domain: _Optional[_Union[IntDomain, _Mapping]] = ..., categorical: _Optional[_Union[CategoricalDomain, _Mapping]] = ..., finite_range: _Optional[_Union[FiniteRangeDomain, _Mapping]] = ..., condition: _Optional[_Union[ParameterCondition, _Mapping]] = ..., prior: _Optional[_Union[Value, _Mapping]] = ..., confidence: _Optional[_Union[PriorConfidence, str]] = ...) -> None: ...

class ParameterCondition(_message.Message):
    __slots__ = ("parent", "values")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    parent: str
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, parent: _Optional[str] = ..., values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("name", "mode")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    mode: Mode
    def __init__(self, name: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ...) -> None: ...

class SchedulerSpec(_message.Message):
    __slots__ = ("kind", "r_min", "r_max", "eta", "brackets")
    KIND_FIELD_NUMBER: _ClassVar[int]
    R_MIN_FIELD_NUMBER: _ClassVar[int]
    R_MAX_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    BRACKETS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    r_min: int
    r_max: int
    eta: int
    brackets: int
    def __init__(self, kind: _Optional[str] = ..., r_min: _Optional[int] = ..., r_max: _Optional[int] = ..., eta: _Optional[int] = ..., brackets: _Optional[int] = ...) -> None: ...

class SearcherSpec(_message.Message):
    __slots__ = ("kind", "initial_configs")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INITIAL_CONFIGS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    initial_configs: _containers.RepeatedCompositeFieldContainer[Config]
    def __init__(self, kind: _Optional[str] = ..., initial_configs: _Optional[_Iterable[_Union[Config, _Mapping]]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("max_trials", "max_resource", "max_wall_seconds")
    MAX_TRIALS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_trials: int
    max_resource: int
    max_wall_seconds: float
    def __init__(self, max_trials: _Optional[int] = ..., max_resource: _Optional[int] = ..., max_wall_seconds: _Optional[float] = ...) -> None: ...

class StudySpec(_message.Message):
    __slots__ = ("name", "space", "metric", "scheduler", "searcher", "budget", "seed", "objectives", "constraints", "reference_point")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    SEARCHER_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVES_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_POINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    space: _containers.RepeatedCompositeFieldContainer[Parameter]
    metric: Metric
    scheduler: SchedulerSpec
    searcher: SearcherSpec
    budget: Budget
    seed: int
    objectives: _containers.RepeatedCompositeFieldContainer[Metric]
    constraints: _containers.RepeatedCompositeFieldContainer[Constraint]
    reference_point: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., space: _Optional[_Iterable[_Union[Parameter, _Mapping]]] = ..., metric: _Optional[_Union[Metric, _Mapping]] = ..., scheduler: _Optional[_Union[SchedulerSpec, _Mapping]] = ..., searcher: _Optional[_Union[SearcherSpec, _Mapping]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., seed: _Optional[int] = ..., objectives: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., constraints: _Optional[_Iterable[_Union[Constraint, _Mapping]]] = ..., reference_point: _Optional[_Iterable[float]] = ...) -> None: ...

class Constraint(_message.Message):
    __slots__ = ("metric", "op", "bound")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    metric: str
    op: ConstraintOp
    bound: float
    def __init__(self, metric: _Optional[str] = ..., op: _Optional[_Union[ConstraintOp, str]] = ..., bound: _Optional[float] = ...) -> None: ...

class Incumbent(_message.Message):
    __slots__ = ("trial_id", "config", "resource", "value")
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    trial_id: int
    config: Config
    resource: int
    value: float
    def __init__(self, trial_id: _Optional[int] = ..., config: _Optional[_Union[Config, _Mapping]] = ..., resource: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("spec", "state", "trials_started", "trials_running", "promotions", "resource_spent", "has_incumbent", "incumbent", "created_at", "pareto_front", "hypervolume", "reference_point", "budget", "trials_imported")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRIALS_STARTED_FIELD_NUMBER: _ClassVar[int]
    TRIALS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_SPENT_FIELD_NUMBER: _ClassVar[int]
    HAS_INCUMBENT_FIELD_NUMBER: _ClassVar[int]
    INCUMBENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PARETO_FRONT_FIELD_NUMBER: _ClassVar[int]
    HYPERVOLUME_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_POINT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    TRIALS_IMPORTED_FIELD_NUMBER: _ClassVar[int]
    spec: StudySpec
    state: StudyState
    trials_started: int
    trials_running: int
    promotions: int
    resource_spent: int
    has_incumbent: bool
    incumbent: Incumbent
    created_at: float
    pareto_front: _containers.RepeatedCompositeFieldContainer[ParetoPoint]
    hypervolume: _containers.RepeatedCompositeFieldContainer[HypervolumePoint]
    reference_point: _containers.RepeatedScalarFieldContainer[float]
    budget: Budget
    trials_imported: int
    def __init__(self, spec: _Optional[_Union[StudySpec, _Mapping]] = ..., state: _Optional[_Union[StudyState, str]] = ..., trials_started: _Optional[int] = ..., trials_running: _Optional[int] = ..., promotions: _Optional[int] = ..., resource_spent: _Optional[int] = ..., has_incumbent: _Optional[bool] = ..., incumbent: _Optional[_Union[Incumbent, _Mapping]] = ..., created_at: _Optional[float] = ..., pareto_front: _Optional[_Iterable[_Union[ParetoPoint, _Mapping]]] = ..., hypervolume: _Optional[_Iterable[_Union[HypervolumePoint, _Mapping]]] = ..., reference_point: _Optional[_Iterable[float]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., trials_imported: _Optional[int] = ...) -> None: ...

class ParetoPoint(_message.Message):
    __slots__ = ("trial_id", "config", "resource", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    trial_id: int
    config: Config
    resource: int
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, trial_id: _Optional[int] = ..., config: _Optional[_Union[Config, _Mapping]] = ..., resource: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class HypervolumePoint(_message.Message):
    __slots__ = ("seq", "at", "value")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: float
    value: float
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[float] = ..., value: _Optional[float] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("seq", "resume_from", "milestone", "worker_id", "lease_id", "lost")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    seq: int
    resume_from: int
    milestone: int
    worker_id: str
    lease_id: str
    lost: bool
    def __init__(self, seq: _Optional[int] = ..., resume_from: _Optional[int] = ..., milestone: _Optional[int] = ..., worker_id: _Optional[str] = ..., lease_id: _Optional[str] = ..., lost: _Optional[bool] = ...) -> None: ...

class Observation(_message.Message):
    __slots__ = ("seq", "resource", "value", "at", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    resource: int
    value: float
    at: float
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, seq: _Optional[int] = ..., resource: _Optional[int] = ..., value: _Optional[float] = ..., at: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("id", "config", "status", "bracket", "segments", "observations", "checkpoint", "checkpoint_resource", "failures", "lease_deadline", "imported")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BRACKET_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    LEASE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    id: int
    config: Config
    status: TrialStatus
    bracket: int
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    observations: _containers.RepeatedCompositeFieldContainer[Observation]
    checkpoint: str
    checkpoint_resource: int
    failures: _containers.RepeatedScalarFieldContainer[str]
    lease_deadline: float
    imported: bool
    def __init__(self, id: _Optional[int] = ..., config: _Optional[_Union[Config, _Mapping]] = ..., status: _Optional[_Union[TrialStatus, str]] = ..., bracket: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., observations: _Optional[_Iterable[_Union[Observation, _Mapping]]] = ..., checkpoint: _Optional[str] = ..., checkpoint_resource: _Optional[int] = ..., failures: _Optional[_Iterable[str]] = ..., lease_deadline: _Optional[float] = ..., imported: _Optional[bool] = ...) -> None: ...

class CreateStudyRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: StudySpec
    def __init__(self, spec: _Optional[_Union[StudySpec, _Mapping]] = ...) -> None: ...

class GetStudyRequest(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: str
    def __init__(self, study: _Optional[str] = ...) -> None: ...

class ListStudiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStudiesResponse(_message.Message):
    __slots__ = ("studies",)
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    studies: _containers.RepeatedCompositeFieldContainer[Study]
    def __init__(self, studies: _Optional[_Iterable[_Union[Study, _Mapping]]] = ...) -> None: ...

class StopStudyRequest(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: str
    def __init__(self, study: _Optional[str] = ...) -> None: ...

class DeleteStudyRequest(_message.Message):
    __slots__ = ("study",)
    STUDY_FIELD_NUMBER: _ClassVar[int]
    study: str
    def __init__(self, study: _Optional[str] = ...) -> None: ...

class DeleteStudyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTrialsRequest(_message.Message):
    __slots__ = ("study", "page_size", "page_token", "statuses", "changed_since")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_SINCE_FIELD_NUMBER: _ClassVar[int]
    study: str
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[TrialStatus]
    changed_since: int
    def __init__(self, study: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[TrialStatus, str]]] = ..., changed_since: _Optional[int] = ...) -> None: ...

class ListTrialsResponse(_message.Message):
    __slots__ = ("trials", "next_page_token", "seq")
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[Trial]
    next_page_token: str
    seq: int
    def __init__(self, trials: _Optional[_Iterable[_Union[Trial, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class WatchStudyRequest(_message.Message):
    __slots__ = ("study", "after_seq")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    study: str
    after_seq: int
    def __init__(self, study: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class StudyEvent(_message.Message):
    __slots__ = ("seq", "kind", "trial_id", "payload_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: str
    trial_id: int
    payload_json: str
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[str] = ..., trial_id: _Optional[int] = ..., payload_json: _Optional[str] = ...) -> None: ...

class SuggestRequest(_message.Message):
    __slots__ = ("study", "worker_id", "request_id", "first_attempt")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    study: str
    worker_id: str
    request_id: str
    first_attempt: bool
    def __init__(self, study: _Optional[str] = ..., worker_id: _Optional[str] = ..., request_id: _Optional[str] = ..., first_attempt: _Optional[bool] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("kind", "trial_id", "config", "resume_from", "milestone", "checkpoint", "lease_id", "lease_deadline", "retry_after_ms", "lease_seconds")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    kind: JobKind
    trial_id: int
    config: Config
    resume_from: int
    milestone: int
    checkpoint: str
    lease_id: str
    lease_deadline: float
    retry_after_ms: int
    lease_seconds: float
    def __init__(self, kind: _Optional[_Union[JobKind, str]] = ..., trial_id: _Optional[int] = ..., config: _Optional[_Union[Config, _Mapping]] = ..., resume_from: _Optional[int] = ..., milestone: _Optional[int] = ..., checkpoint: _Optional[str] = ..., lease_id: _Optional[str] = ..., lease_deadline: _Optional[float] = ..., retry_after_ms: _Optional[int] = ..., lease_seconds: _Optional[float] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("study", "trial_id", "lease_id", "resource", "value", "checkpoint", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_id: int
    lease_id: str
    resource: int
    value: float
    checkpoint: str
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, study: _Optional[str] = ..., trial_id: _Optional[int] = ..., lease_id: _Optional[str] = ..., resource: _Optional[int] = ..., value: _Optional[float] = ..., checkpoint: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("decision", "status")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    status: TrialStatus
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., status: _Optional[_Union[TrialStatus, str]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("study", "lease_id")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    lease_id: str
    def __init__(self, study: _Optional[str] = ..., lease_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("lease_deadline",)
    LEASE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    lease_deadline: float
    def __init__(self, lease_deadline: _Optional[float] = ...) -> None: ...

class FailRequest(_message.Message):
    __slots__ = ("study", "trial_id", "lease_id", "reason")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_id: int
    lease_id: str
    reason: str
    def __init__(self, study: _Optional[str] = ..., trial_id: _Optional[int] = ..., lease_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class FailResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("study", "trial_id", "lease_id", "resource", "checkpoint")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_id: int
    lease_id: str
    resource: int
    checkpoint: str
    def __init__(self, study: _Optional[str] = ..., trial_id: _Optional[int] = ..., lease_id: _Optional[str] = ..., resource: _Optional[int] = ..., checkpoint: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckpointHeader(_message.Message):
    __slots__ = ("study", "trial_id", "lease_id", "resource", "size", "sha256")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_id: int
    lease_id: str
    resource: int
    size: int
    sha256: str
    def __init__(self, study: _Optional[str] = ..., trial_id: _Optional[int] = ..., lease_id: _Optional[str] = ..., resource: _Optional[int] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class CheckpointChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: CheckpointHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[CheckpointHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class CheckpointRef(_message.Message):
    __slots__ = ("ref", "size", "sha256")
    REF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ref: str
    size: int
    sha256: str
    def __init__(self, ref: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class CheckpointRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class SetBudgetRequest(_message.Message):
    __slots__ = ("study", "max_trials", "max_resource", "max_wall_seconds", "request_id")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    MAX_TRIALS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    max_trials: int
    max_resource: int
    max_wall_seconds: float
    request_id: str
    def __init__(self, study: _Optional[str] = ..., max_trials: _Optional[int] = ..., max_resource: _Optional[int] = ..., max_wall_seconds: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class RetryTrialsRequest(_message.Message):
    __slots__ = ("study", "trial_ids", "request_id")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    trial_ids: _containers.RepeatedScalarFieldContainer[int]
    request_id: str
    def __init__(self, study: _Optional[str] = ..., trial_ids: _Optional[_Iterable[int]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RetryTrialsResponse(_message.Message):
    __slots__ = ("trial_ids",)
    TRIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    trial_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, trial_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ImportedResult(_message.Message):
    __slots__ = ("resource", "value", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    resource: int
    value: float
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, resource: _Optional[int] = ..., value: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ImportedTrial(_message.Message):
    __slots__ = ("config", "results", "label")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    config: Config
    results: _containers.RepeatedCompositeFieldContainer[ImportedResult]
    label: str
    def __init__(self, config: _Optional[_Union[Config, _Mapping]] = ..., results: _Optional[_Iterable[_Union[ImportedResult, _Mapping]]] = ..., label: _Optional[str] = ...) -> None: ...

class ImportTrialsRequest(_message.Message):
    __slots__ = ("study", "trials", "request_id")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    study: str
    trials: _containers.RepeatedCompositeFieldContainer[ImportedTrial]
    request_id: str
    def __init__(self, study: _Optional[str] = ..., trials: _Optional[_Iterable[_Union[ImportedTrial, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ImportTrialsResponse(_message.Message):
    __slots__ = ("trial_ids", "skipped")
    TRIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    trial_ids: _containers.RepeatedScalarFieldContainer[int]
    skipped: int
    def __init__(self, trial_ids: _Optional[_Iterable[int]] = ..., skipped: _Optional[int] = ...) -> None: ...
