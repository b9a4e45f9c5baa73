#!/usr/bin/env Rscript
# Elapsed times of R's lme4 on the project's benchmark models, for comparison with this package.
#
# Usage (from the repository root):
#   Rscript benchmarks/r/bench_lme4.R [DATA_DIR] [--reps=5] [--nsim=1000] > benchmarks/results/lme4_timings.json
# DATA_DIR defaults to ../shared/data relative to the repository root. Each fit is run once as a
# warm-up, then `reps` times; the median elapsed time (proc.time) is reported with all times.
# lme4 default controls throughout (what a user gets). Single-threaded reference BLAS expected.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

all_args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", grep("^--file=", all_args, value = TRUE))
script_dir <- if (length(file_arg)) dirname(normalizePath(file_arg[1])) else getwd()
repo_root <- normalizePath(file.path(script_dir, "..", ".."))
args <- commandArgs(trailingOnly = TRUE)
opt <- function(name, default) {
  v <- sub(paste0("^--", name, "="), "", grep(paste0("^--", name, "="), args, value = TRUE))
  if (length(v)) as.numeric(v[1]) else default
}
REPS <- opt("reps", 5)
NSIM <- opt("nsim", 1000)
pos <- args[!grepl("^--", args)]
DATA_DIR <- normalizePath(if (length(pos) >= 1) pos[1] else file.path(repo_root, "..", "shared", "data"))

# factors with sorted levels (numeric order for integer-like labels), as the reference fits do
load_data <- function(name, factors) {
  cc <- setNames(rep("character", length(factors)), factors)
  d <- read.csv(file.path(DATA_DIR, paste0(name, ".csv")), colClasses = cc, stringsAsFactors = FALSE)
  for (v in factors) {
    u <- unique(d[[v]])
    lev <- if (all(grepl("^-?[0-9]+$", u))) u[order(as.numeric(u))] else sort(u, method = "radix")
    d[[v]] <- factor(d[[v]], levels = lev)
  }
  d
}
cbpp <- load_data("cbpp", c("herd", "period"))
grouse <- load_data("grouseticks", c("INDEX", "BROOD", "YEAR", "LOCATION"))
sleep <- load_data("sleepstudy", "Subject")

elapsed <- function(expr_fun) {
  t0 <- proc.time()[["elapsed"]]
  val <- expr_fun()
  list(seconds = round(proc.time()[["elapsed"]] - t0, 3), value = val)
}
bench <- function(label, fun, describe) {
  quiet <- function() suppressWarnings(suppressMessages(fun()))
  warm <- elapsed(quiet)
  times <- numeric(0)
  last <- NULL
  for (i in seq_len(REPS)) {
    r <- elapsed(quiet)
    times <- c(times, r$seconds)
    last <- r$value
  }
  c(list(name = label, median_s = median(times), times_s = I(times), warmup_s = warm$seconds),
    describe(last))
}
describe_fit <- function(m) {
  w <- tryCatch({
    withCallingHandlers(fixef(m), warning = function(w) invokeRestart("muffleWarning"))
    m@optinfo$conv$lme4$messages
  }, error = function(e) NULL)
  list(
    nobs = nobs(m), ngrps = as.list(ngrps(m)),
    objective = if (isGLMM(m)) unname(m@devcomp$cmp[["dev"]]) else if (isREML(m)) REMLcrit(m) else deviance(m),
    optimizer = m@optinfo$optimizer, feval = m@optinfo$feval,
    lme4_convergence_messages = if (length(w)) I(w) else NULL
  )
}

results <- list()
results[[length(results) + 1]] <- bench(
  "cbpp_binomial_glmer",
  function() glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial),
  function(m) c(list(call = "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)"),
                describe_fit(m))
)
results[[length(results) + 1]] <- bench(
  "grouseticks_poisson_glmer",
  function() glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), data = grouse, family = poisson),
  function(m) c(list(call = "glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), grouseticks, family = poisson)"),
                describe_fit(m))
)
results[[length(results) + 1]] <- bench(
  "sleepstudy_slope_lmer",
  function() lmer(Reaction ~ Days + (Days | Subject), data = sleep, REML = TRUE),
  function(m) c(list(call = "lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)"), describe_fit(m))
)
results[[length(results) + 1]] <- bench(
  "sleepstudy_intercept_lmer",
  function() lmer(Reaction ~ Days + (1 | Subject), data = sleep, REML = TRUE),
  function(m) c(list(call = "lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)"), describe_fit(m))
)
m_sleep <- lmer(Reaction ~ Days + (Days | Subject), data = sleep, REML = TRUE)
results[[length(results) + 1]] <- bench(
  "sleepstudy_bootMer_fixef",
  function() bootMer(m_sleep, function(x) fixef(x), nsim = NSIM, seed = 20261201, type = "parametric", use.u = FALSE),
  function(b) {
    ok <- complete.cases(b$t)
    list(
      call = sprintf("bootMer(lmer(Reaction ~ Days + (Days | Subject), sleepstudy), function(x) fixef(x), nsim = %d, seed = 20261201, type = 'parametric', use.u = FALSE)", NSIM),
      nsim = NSIM, n_ok = sum(ok), bootstrap_sd = I(unname(apply(b$t[ok, , drop = FALSE], 2, sd))),
      note = "the fit before bootMer is not timed; each refit uses lme4 defaults (nloptwrap); random streams differ from Python's, so the bootstrap SDs are only indicative"
    )
  }
)

si <- sessionInfo()
out <- list(
  tool = "R lme4", script = "benchmarks/r/bench_lme4.R",
  R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  Matrix = as.character(packageVersion("Matrix")), nloptr = as.character(packageVersion("nloptr")),
  blas = si$BLAS, lapack = si$LAPACK,
  blas_note = "Debian reference BLAS/LAPACK (libblas3 / liblapack3), single-threaded",
  machine = list(
    cpu = tryCatch(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1]), error = function(e) NULL),
    ncores_visible = parallel::detectCores(),
    loadavg_at_start = tryCatch(readLines("/proc/loadavg"), error = function(e) NULL),
    note = "2 cores, shared with other jobs: read the times as rough figures"
  ),
  method = sprintf("elapsed time (proc.time) of the whole call, one warm-up then %d timed runs, median reported; lme4 default controls; data read from the CSVs (sorted factor levels) beforehand, not timed", REPS),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z", tz = "UTC"),
  results = results
)
cat(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE), "\n")
