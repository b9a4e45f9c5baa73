#!/usr/bin/env Rscript
# One lme4 model for the Python benchmark scripts (benchmarks/bench_common.py: run_lme4).
#
# Usage: Rscript --vanilla benchmarks/r/fit_lme4.R SPEC.json
# SPEC.json (written by bench_common.run_lme4): n_rows; columns = [{name, kind ("double" or
# "factor"), path (raw little-endian float64, or int32 codes with -1 = NA), levels}]; formula;
# REML; family (null for lmer, "binomial" / "poisson" for glmer); weights (a column name or
# null); repeats; calc_derivs; warmup_rows.
#
# Protocol (as the Python workers): a warm-up fit on the first warmup_rows rows (droplevels;
# errors ignored), one measured fit (objective, convergence messages, extra peak RSS: VmHWM
# after resetting it through /proc/self/clear_refs minus VmRSS before), then `repeats` timed
# fits. Times are proc.time() elapsed and user + system CPU of the whole lmer/glmer call
# (model set-up included). lme4 default controls, except calc.derivs when the spec says so.
# Prints one JSON object on the last line of stdout.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
spec <- fromJSON(args[1], simplifyVector = FALSE)
n <- spec$n_rows

read_column <- function(col) {
  con <- file(col$path, "rb")
  on.exit(close(con))
  if (col$kind == "double") {
    return(readBin(con, "double", n = n, size = 8, endian = "little"))
  }
  codes <- readBin(con, "integer", n = n, size = 4, endian = "little")
  lev <- unlist(col$levels)
  codes[codes < 0L] <- NA_integer_
  factor(lev[codes + 1L], levels = lev)
}
d <- as.data.frame(
  setNames(lapply(spec$columns, read_column), vapply(spec$columns, `[[`, "", "name")),
  stringsAsFactors = FALSE
)

form <- as.formula(spec$formula)
glmm <- !is.null(spec$family)
calc_derivs <- isTRUE(spec$calc_derivs)
fit <- function(dd) {
  if (glmm) {
    fam <- switch(spec$family, binomial = binomial(), poisson = poisson(),
                  stop("unknown family ", spec$family))
    w <- if (is.null(spec$weights)) NULL else dd[[spec$weights]]
    dd$.w <- if (is.null(w)) rep(1, nrow(dd)) else w
    glmer(form, data = dd, family = fam, weights = .w,
          control = glmerControl(calc.derivs = calc_derivs))
  } else {
    lmer(form, data = dd, REML = isTRUE(spec$REML), control = lmerControl(calc.derivs = calc_derivs))
  }
}

status_kb <- function(field) {
  x <- tryCatch(readLines("/proc/self/status"), error = function(e) character(0))
  v <- grep(paste0("^", field, ":"), x, value = TRUE)
  if (length(v)) as.numeric(strsplit(trimws(sub(paste0(field, ":"), "", v)), " +")[[1]][1]) else NA
}
reset_peak <- function() {
  tryCatch({ cat("5", file = "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)
}
cpu_now <- function() { p <- proc.time(); p[["user.self"]] + p[["sys.self"]] }
loadavg <- function() {
  as.numeric(strsplit(tryCatch(readLines("/proc/loadavg"), error = function(e) "NA"), " ")[[1]][1])
}

load0 <- loadavg()
# warm-up (JIT-free R: mostly page-ins of lme4's code); a subset can be degenerate
wr <- min(n, spec$warmup_rows)
invisible(tryCatch(suppressWarnings(suppressMessages(fit(droplevels(d[seq_len(wr), , drop = FALSE])))),
                   error = function(e) NULL))

warn <- character(0)
msgs <- character(0)
invisible(gc())
reset <- reset_peak() && !is.na(status_kb("VmHWM"))
base_kb <- status_kb("VmRSS")
t0 <- proc.time()[["elapsed"]]
c0 <- cpu_now()
m <- withCallingHandlers(fit(d),
  warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") },
  message = function(c) { msgs <<- c(msgs, sub("\n$", "", conditionMessage(c))); invokeRestart("muffleMessage") }
)
first_s <- proc.time()[["elapsed"]] - t0
first_cpu <- cpu_now() - c0
peak_kb <- status_kb("VmHWM")

objective <- if (glmm) -2 * as.numeric(logLik(m)) else if (isREML(m)) REMLcrit(m) else deviance(m)
times <- numeric(0)
cpus <- numeric(0)
for (i in seq_len(spec$repeats)) {
  invisible(gc())
  t0 <- proc.time()[["elapsed"]]
  c0 <- cpu_now()
  suppressWarnings(suppressMessages(fit(d)))
  times <- c(times, proc.time()[["elapsed"]] - t0)
  cpus <- c(cpus, cpu_now() - c0)
}
if (!length(times)) {
  times <- first_s
  cpus <- first_cpu
}
conv <- m@optinfo$conv$lme4$messages
si <- sessionInfo()
out <- list(
  objective = objective,
  theta = I(unname(getME(m, "theta"))),
  beta = I(unname(fixef(m))),
  nfev = m@optinfo$feval,
  optimizer = paste(m@optinfo$optimizer, collapse = ","),
  converged = length(conv) == 0 && m@optinfo$conv$opt == 0,
  lme4_messages = if (length(conv)) I(conv) else NULL,
  warnings = if (length(warn)) I(unique(warn)) else NULL,
  messages = if (length(msgs)) I(unique(msgs)) else NULL,
  is_singular = isSingular(m),
  first_fit_s = first_s,
  first_fit_cpu_s = first_cpu,
  median_s = median(times),
  median_cpu_s = median(cpus),
  min_s = min(times),
  times_s = I(times),
  cpu_s = I(cpus),
  peak_mb = if (reset) max(peak_kb - base_kb, 0) / 1024 else NA,
  process_peak_mb = if (reset) peak_kb / 1024 else NA,
  baseline_mb = if (reset) base_kb / 1024 else NA,
  mem_method = if (reset) "VmHWM-VmRSS after clear_refs" else "not measured",
  n_rows = n,
  loadavg_1m = I(c(load0, loadavg())),
  calc_derivs = calc_derivs,
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  Matrix = as.character(packageVersion("Matrix")),
  blas = si$BLAS,
  lapack = si$LAPACK
)
cat(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"), "\n")
