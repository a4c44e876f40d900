"""The GraphQL schema served at ``/graphql``: a permissive subset of W&B's.

Input objects are declared as scalars (``scalar CreateArtifactInput``) so that any field
an SDK version sends is accepted; resolvers read the keys they need. Output types list
the fields the wandb SDK (0.29 - 0.31) selects; fields the server does not track resolve
to ``null`` or an empty value.
"""

from __future__ import annotations

from functools import lru_cache

from graphql import GraphQLSchema, build_schema

SDL = """
schema { query: Query mutation: Mutation }

scalar JSON
scalar JSONString
scalar DateTime
scalar Int64
scalar Duration

# Input objects, accepted as free-form JSON (see module docstring).
scalar UpsertBucketInput
scalar CreateRunFilesInput
scalar MarkRunFilesUploadedInput
scalar CreateArtifactInput
scalar CreateArtifactFilesInput
scalar CreateArtifactFileSpecInput
scalar CreateArtifactManifestInput
scalar UpdateArtifactManifestInput
scalar CommitArtifactInput
scalar UseArtifactInput
scalar LinkArtifactInput
scalar UnlinkArtifactInput
scalar UpdateArtifactInput
scalar AddAliasesInput
scalar DeleteAliasesInput
scalar DeleteArtifactInput
scalar StopRunInput
scalar DeleteRunInput
scalar ArtifactAliasInput
scalar ArtifactCollectionAliasInput
scalar ArtifactManifestEntryInput
scalar ArtifactManifestType
scalar ArtifactStorageLayout
scalar ArtifactDigestAlgorithm
scalar ArtifactCollectionType
scalar TagInput
scalar RampIDType
scalar CompleteMultipartUploadArtifactInput
scalar UploadPartsInput
scalar CompleteMultipartAction
scalar CreateProjectInput
scalar UpsertModelInput
scalar ArtifactCollectionState
scalar CreateArtifactCollectionTagAssignmentsInput
scalar DeleteArtifactCollectionTagAssignmentsInput
scalar UpdateArtifactSequenceInput
scalar UpdateArtifactPortfolioInput
scalar MoveArtifactSequenceInput
scalar DeleteArtifactSequenceInput
scalar DeleteArtifactPortfolioInput

type Query {
  viewer: User
  serverInfo: ServerInfo
  entity(name: String): Entity
  user(userName: String, id: ID): User
  project(name: String, entityName: String): Project
  model(name: String, entityName: String): Project
  models(entityName: String, first: Int, after: String, order: String): ProjectConnection
  projects(entityName: String, first: Int, after: String, order: String): ProjectConnection
  run(id: ID): Run
  artifact(id: ID!): Artifact
  artifactCollection(id: ID!): ArtifactCollection
  artifactSequence(id: ID!): ArtifactCollection
  artifactPortfolio(id: ID!): ArtifactCollection
  clientIDMapping(clientID: ID!): ClientIDMappingResult
  organization(name: String, id: ID): Organization
}

type Mutation {
  upsertBucket(input: UpsertBucketInput!): UpsertBucketPayload
  createRunFiles(input: CreateRunFilesInput!): CreateRunFilesPayload
  markRunFilesUploaded(input: MarkRunFilesUploadedInput!): SuccessPayload
  stopRun(input: StopRunInput!): SuccessPayload
  deleteRun(input: DeleteRunInput!): DeleteRunPayload
  createArtifact(input: CreateArtifactInput!): CreateArtifactPayload
  createArtifactFiles(
    input: CreateArtifactFilesInput!, storageLayout: ArtifactStorageLayout
  ): CreateArtifactFilesPayload
  createArtifactManifest(input: CreateArtifactManifestInput!): ArtifactManifestPayload
  updateArtifactManifest(input: UpdateArtifactManifestInput!): ArtifactManifestPayload
  commitArtifact(input: CommitArtifactInput!): ArtifactPayload
  useArtifact(input: UseArtifactInput!): ArtifactPayload
  updateArtifact(input: UpdateArtifactInput!): ArtifactPayload
  deleteArtifact(input: DeleteArtifactInput!): ArtifactPayload
  linkArtifact(input: LinkArtifactInput!): LinkArtifactPayload
  unlinkArtifact(input: UnlinkArtifactInput!): SuccessPayload
  addAliases(input: AddAliasesInput!): SuccessPayload
  deleteAliases(input: DeleteAliasesInput!): SuccessPayload
  upsertModel(input: UpsertModelInput!): UpsertModelPayload
  createArtifactCollectionTagAssignments(
    input: CreateArtifactCollectionTagAssignmentsInput!
  ): TagsPayload
  deleteArtifactCollectionTagAssignments(
    input: DeleteArtifactCollectionTagAssignmentsInput!
  ): SuccessPayload
  updateArtifactSequence(input: UpdateArtifactSequenceInput!): ArtifactCollectionPayload
  updateArtifactPortfolio(input: UpdateArtifactPortfolioInput!): ArtifactCollectionPayload
  moveArtifactSequence(input: MoveArtifactSequenceInput!): ArtifactCollectionPayload
  deleteArtifactSequence(input: DeleteArtifactSequenceInput!): ArtifactCollectionPayload
  deleteArtifactPortfolio(input: DeleteArtifactPortfolioInput!): ArtifactCollectionPayload
}

type ServerInfo {
  features: [ServerFeature]
  cliVersionInfo: JSON
  latestLocalVersionInfo: LocalVersionInfo
  availableBucketProviders: [String]
  frontendHost: String
  defaultCloudRegion: CloudRegion
  isGoogleIap: Boolean
}
type LocalVersionInfo {
  outOfDate: Boolean latestVersionString: String versionOnThisInstanceString: String
}
type CloudRegion { id: ID region: String provider: String }
type ServerFeature { name: String! isEnabled: Boolean! description: String }

type PageInfo {
  endCursor: String hasNextPage: Boolean! startCursor: String hasPreviousPage: Boolean
}

type ApiKey { id: ID name: String description: String }
type ApiKeyEdge { node: ApiKey }
type ApiKeyConnection { edges: [ApiKeyEdge!]! }

type User {
  id: ID!
  name: String
  username: String
  email: String
  admin: Boolean
  flags: JSONString
  entity: String
  deletedAt: DateTime
  photoUrl: String
  defaultEntity: Entity
  userEntity: Entity
  apiKeys: ApiKeyConnection
  teams(first: Int): EntityConnection
  organizations: [Organization!]!
  accountType: String
}

type EntityEdge { node: Entity }
type EntityConnection { edges: [EntityEdge!]! }

type Entity {
  id: ID!
  name: String!
  available: Boolean
  photoUrl: String
  readOnly: Boolean
  readOnlyAdmin: Boolean
  isTeam: Boolean
  entityType: String
  privateOnly: Boolean
  storageBytes: Int64
  codeSavingEnabled: Boolean
  defaultAccess: String
  isPaid: Boolean
  members: [Member!]
  organization: Organization
  user: User
  xxhashDigestsEnabled: Boolean
  project(name: String): Project
  projects(first: Int, after: String, order: String, filters: JSONString): ProjectConnection
  defaultFramework: String
  settings: EntitySettings
}
type EntitySettings { defaultCloudRegion: CloudRegion storageBucketInfo: JSON }
type Member {
  id: ID name: String username: String email: String role: String pending: Boolean
  photoUrl: String accountType: String apiKey: String
}

type Organization {
  id: ID!
  name: String!
  orgEntity: Entity
  featureFlags(rampIDType: RampIDType): [FeatureFlag!]!
  advancedRegistryFeatures: AdvancedRegistryFeatures
  coreWeaveOrganizationId: String
}
type FeatureFlag { rampKey: String! isEnabled: Boolean! }
type AdvancedRegistryFeatures { advancedSearch: Boolean }

type ProjectEdge { node: Project cursor: String }
type ProjectConnection { edges: [ProjectEdge!]! pageInfo: PageInfo! totalCount: Int }

type Project {
  id: ID!
  internalId: ID
  name: String!
  entityName: String
  entity: Entity!
  description: String
  createdAt: DateTime
  updatedAt: DateTime
  isBenchmark: Boolean
  readOnly: Boolean
  access: String
  views: JSONString
  user: User
  allowAllArtifactTypesInRegistry: Boolean
  runCount(filters: JSONString): Int
  run(name: String): Run
  bucket(name: String, missingOk: Boolean): Run
  runs(
    filters: JSONString, after: String, first: Int, order: String, before: String, last: Int
  ): RunConnection
  artifact(name: String!): Artifact
  artifactType(name: String): ArtifactType
  artifactTypes(after: String, first: Int, includeAll: Boolean): ArtifactTypeConnection
  artifactCollection(name: String): ArtifactCollection
  artifactCollections(
    after: String, first: Int, filters: JSONString, order: String,
    collectionTypes: [ArtifactCollectionType!]
  ): ArtifactCollectionConnection
  artifactCollectionMembership(name: String!): ArtifactCollectionMembership
  totalRuns: Int
}

type RunEdge { node: Run cursor: String }
type RunConnection { edges: [RunEdge!]! pageInfo: PageInfo! totalCount: Int }

type Run {
  id: ID!
  name: String!
  displayName: String
  description: String
  notes: String
  state: String
  config: JSONString
  summaryMetrics: JSONString
  systemMetrics: JSONString
  wandbConfig(keys: [String!]): JSONString
  tags: [String!]
  tagColors: JSONString
  group: String
  groupName: String
  jobType: String
  commit: String
  host: String
  program: String
  sweepName: String
  readOnly: Boolean
  createdAt: DateTime
  updatedAt: DateTime
  heartbeatAt: DateTime
  historyLineCount: Int
  logLineCount: Int
  eventsLineCount: Int
  historyTail: String
  eventsTail: String
  historyKeys(format: String): JSON
  history(samples: Int, minStep: Int64, maxStep: Int64): [String]
  sampledHistory(specs: [JSONString]!): [JSON]
  parquetHistory(liveKeys: [String!]): ParquetHistory
  exitcode: Int
  projectId: ID
  project: Project
  user: User
  inputArtifacts(after: String, first: Int): ArtifactConnection
  outputArtifacts(after: String, first: Int): ArtifactConnection
  files(names: [String], after: String, first: Int, pattern: String): FileConnection
  fileCount: Int
}

type ParquetHistory { parquetUrls: [String!]! liveData: [JSON!]! }

type ClientIDMappingResult { serverID: ID! }

type ArtifactType {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime
  artifactCollection(name: String): ArtifactCollection
  artifactSequence(name: String): ArtifactCollection
  artifactCollections(
    after: String, first: Int, filters: JSONString, order: String
  ): ArtifactCollectionConnection
  artifact(name: String): Artifact
}
type ArtifactTypeEdge { node: ArtifactType cursor: String }
type ArtifactTypeConnection { edges: [ArtifactTypeEdge!]! pageInfo: PageInfo! totalCount: Int }

type Tag { id: ID! name: String! tagCategoryName: String attributes: JSONString }
type TagEdge { node: Tag! }
type TagConnection { edges: [TagEdge!]! pageInfo: PageInfo totalCount: Int }

interface ArtifactCollection {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime
  updatedAt: DateTime
  state: String
  project: Project
  defaultArtifactType: ArtifactType
  tags: TagConnection
  aliases(after: String, first: Int): ArtifactAliasConnection
  artifacts(
    after: String, first: Int, order: String, filters: JSONString
  ): VersionedArtifactConnection
  artifactMembership(aliasName: String): ArtifactCollectionMembership
  artifactMemberships(after: String, first: Int): ArtifactCollectionMembershipConnection
  latestArtifact: Artifact
}

type ArtifactSequence implements ArtifactCollection {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime
  updatedAt: DateTime
  state: String
  project: Project
  defaultArtifactType: ArtifactType
  tags: TagConnection
  aliases(after: String, first: Int): ArtifactAliasConnection
  artifacts(
    after: String, first: Int, order: String, filters: JSONString
  ): VersionedArtifactConnection
  artifactMembership(aliasName: String): ArtifactCollectionMembership
  artifactMemberships(after: String, first: Int): ArtifactCollectionMembershipConnection
  latestArtifact: Artifact
  digestAlgorithm: String
}

type ArtifactPortfolio implements ArtifactCollection {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime
  updatedAt: DateTime
  state: String
  project: Project
  defaultArtifactType: ArtifactType
  tags: TagConnection
  aliases(after: String, first: Int): ArtifactAliasConnection
  artifacts(
    after: String, first: Int, order: String, filters: JSONString
  ): VersionedArtifactConnection
  artifactMembership(aliasName: String): ArtifactCollectionMembership
  artifactMemberships(after: String, first: Int): ArtifactCollectionMembershipConnection
  latestArtifact: Artifact
}

type ArtifactCollectionEdge { node: ArtifactCollection cursor: String }
type ArtifactCollectionConnection {
  edges: [ArtifactCollectionEdge!]! pageInfo: PageInfo! totalCount: Int
}

type ArtifactAlias {
  id: ID
  alias: String!
  artifactCollectionName: String
  artifactCollection: ArtifactCollection
  artifact: Artifact
}
type ArtifactAliasEdge { node: ArtifactAlias cursor: String }
type ArtifactAliasConnection { edges: [ArtifactAliasEdge!]! pageInfo: PageInfo! totalCount: Int }

type ArtifactCollectionMembership {
  id: ID!
  versionIndex: Int
  createdAt: DateTime
  aliases: [ArtifactAlias!]!
  artifactCollection: ArtifactCollection
  artifact: Artifact
  files(
    names: [String!], after: String, first: Int
  ): FileConnection
}
type ArtifactCollectionMembershipEdge { node: ArtifactCollectionMembership cursor: String }
type ArtifactCollectionMembershipConnection {
  edges: [ArtifactCollectionMembershipEdge!]! pageInfo: PageInfo! totalCount: Int
}

type Artifact {
  id: ID!
  digest: String!
  digestAlgorithm: String
  commitHash: String
  state: String!
  description: String
  metadata: JSONString
  size: Int64
  fileCount: Int64
  versionIndex: Int
  historyStep: Int64
  ttlDurationSeconds: Int64
  ttlIsInherited: Boolean
  createdAt: DateTime
  updatedAt: DateTime
  labels: JSONString
  tags: [Tag!]!
  aliases: [ArtifactAlias!]!
  artifactType: ArtifactType!
  artifactSequence: ArtifactSequence!
  artifactMemberships(after: String, first: Int): ArtifactCollectionMembershipConnection
  artifactMembership(collectionName: String, aliasName: String): ArtifactCollectionMembership
  currentManifest: ArtifactManifest
  createdBy: Initiator
  usedBy(after: String, first: Int): RunConnection
  files(names: [String!], after: String, first: Int): FileConnection
  filesByManifestEntries(
    storageLayout: String!, manifestVersion: String!,
    entries: [ArtifactManifestEntryInput!], storageRegion: String
  ): FileConnection
  storageRegion: String
}
union Initiator = Run | User

type VersionedArtifactEdge { node: Artifact version: String cursor: String }
type VersionedArtifactConnection {
  edges: [VersionedArtifactEdge!]! pageInfo: PageInfo! totalCount: Int
}
type ArtifactEdge { node: Artifact cursor: String }
type ArtifactConnection { edges: [ArtifactEdge!]! pageInfo: PageInfo! totalCount: Int }

type ArtifactManifest { id: ID! type: String digest: String file: File! }

type File {
  id: ID!
  name: String!
  displayName: String
  url(upload: Boolean): String
  directUrl: String
  uploadUrl: String
  uploadHeaders: [String!]
  uploadMultipartUrls: UploadMultipartUrls
  sizeBytes: Int64
  storagePath: String
  mimetype: String
  updatedAt: DateTime
  digest: String
  md5: String
  artifact: Artifact
}
type UploadMultipartUrls { uploadID: String uploadUrlParts: [UploadUrlPart!]! }
type UploadUrlPart { partNumber: Int64 uploadUrl: String }
type FileEdge { node: File cursor: String }
type FileConnection { edges: [FileEdge!]! pageInfo: PageInfo! totalCount: Int }

type UpsertBucketPayload { bucket: Run project: Project inserted: Boolean }
type UpsertModelPayload { project: Project model: Project inserted: Boolean }
type CreateRunFilesPayload { runID: ID! uploadHeaders: [String!]! files: [File!]! }
type DeleteRunPayload { clientMutationId: String }
type SuccessPayload { success: Boolean! clientMutationId: String }
type CreateArtifactPayload { artifact: Artifact! }
type CreateArtifactFilesPayload { files: FileConnection! }
type ArtifactManifestPayload { artifactManifest: ArtifactManifest! }
type ArtifactPayload { artifact: Artifact }
type TagsPayload { tags: [Tag!]! }
type ArtifactCollectionPayload { artifactCollection: ArtifactCollection }
type LinkArtifactPayload {
  versionIndex: Int
  artifactCollectionMember: Artifact
  artifactMembership: ArtifactCollectionMembership
}
"""


@lru_cache(maxsize=1)
def get_schema() -> GraphQLSchema:
    """Build (once) and return the executable schema."""
    from . import launch  # W&B Launch: its own types, extensions and resolvers

    schema = build_schema(SDL + launch.SDL)
    launch.install(schema)
    return schema
